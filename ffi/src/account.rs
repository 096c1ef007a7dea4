//! The worker's own account on the phone: a new password after an administrator's
//! reset (login answers `auth.password_change_required` until then).

use casesync_core::messages::Code;
use casesync_core::protocol::{password_acceptable, PasswordChangeRequest, MIN_PASSWORD_CHARS};

use crate::error::CasesyncError;
use crate::session::{self, Session};
use crate::store::CaseStore;

#[uniffi::export]
impl CaseStore {
    /// Changes the worker's password (`POST /v1/auth/password`, with the current or
    /// temporary one) and logs in with the new one. A new password that breaks the
    /// rules is refused before anything is sent (`Invalid`, `auth.password_rules`); a
    /// wrong current password is `Unauthorized` (`auth.wrong_password`). Safe to repeat
    /// after a lost answer: the server accepts the same change again.
    pub fn change_password(
        &self,
        server_url: String,
        username: String,
        old_password: String,
        new_password: String,
    ) -> Result<Session, CasesyncError> {
        if !password_acceptable(&new_password) || new_password == old_password {
            return Err(CasesyncError::invalid(
                Code::AuthPasswordRules,
                vec![("min_chars", MIN_PASSWORD_CHARS.to_string())],
                format!(
                    "Choose a new password of at least {MIN_PASSWORD_CHARS} characters, different from the old one."
                ),
            ));
        }
        let http = self.transport_settings().http()?;
        let body = PasswordChangeRequest {
            username: username.clone(),
            old_password,
            new_password: new_password.clone(),
        };
        http.post_json::<serde_json::Value>(&session::url(&server_url, "v1/auth/password"), &body)
            .map_err(|e| self.server_error(e))?;
        self.login(server_url, username, new_password)
    }
}
