//! Registered agencies on the phone (issue #15): the directory fetched when there is
//! signal and kept in the store for offline referrals, and the no-duplicate-services
//! check before a referral is made.

use casesync_core::case::{Referral, ReferralService};
use casesync_core::protocol::{AgencyDirectory, MAX_AGENCIES};

use crate::error::CasesyncError;
use crate::session::{self, Session};
use crate::store::CaseStore;

/// Largest directory answer read, bytes (the directory's own limits bound it well
/// below).
const MAX_DIRECTORY_BYTES: u64 = 2 * 1024 * 1024;

/// A registered agency the worker may refer to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgencyInfo {
    /// Id: what `ReferralInput.agencyId` names.
    pub id: String,
    /// Its name in the language asked for (else English, else its first).
    pub name: String,
    /// Services it offers (empty: any).
    pub services: Vec<ReferralService>,
    /// Districts it serves.
    pub districts: Vec<String>,
}

fn info(a: &casesync_core::protocol::Agency, lang: &str) -> AgencyInfo {
    AgencyInfo {
        id: a.id.clone(),
        name: a.name_in(lang).to_owned(),
        services: a.services.clone(),
        districts: a.districts.clone(),
    }
}

#[uniffi::export]
impl CaseStore {
    /// Fetches the agencies this user may refer to (`GET /v1/agencies`) and keeps them
    /// on the phone for offline referrals; their names in `lang`. A directory that
    /// breaks the limits is refused whole (`Network`, nothing stored).
    pub fn refresh_agencies(
        &self,
        session: Session,
        lang: String,
    ) -> Result<Vec<AgencyInfo>, CasesyncError> {
        let http = self.transport_settings().http()?;
        let dir: AgencyDirectory = http
            .get_json_auth(
                &session::url(&session.server_url, "v1/agencies"),
                session.access_token.expose(),
                MAX_DIRECTORY_BYTES,
            )
            .map_err(|e| self.server_error(e))?;
        if dir.agencies.len() > MAX_AGENCIES || dir.agencies.iter().any(|a| a.check().is_err()) {
            return Err(CasesyncError::from(
                crate::transport::TransportError::BadBody(
                    "the agency directory is over its limits".into(),
                ),
            ));
        }
        self.store.set_agencies(&dir.agencies)?;
        Ok(dir.agencies.iter().map(|a| info(a, &lang)).collect())
    }

    /// The agencies last fetched ([`refresh_agencies`](Self::refresh_agencies)) that take
    /// referrals for `service` (any service: `None`) from `district`, names in `lang`.
    /// Offline.
    pub fn agencies(
        &self,
        district: String,
        service: Option<ReferralService>,
        lang: String,
    ) -> Result<Vec<AgencyInfo>, CasesyncError> {
        Ok(self
            .store
            .agencies()?
            .iter()
            .filter(|a| match service {
                Some(s) => a.serves(&district, s),
                None => !a.disabled && a.districts.contains(&district),
            })
            .map(|a| info(a, &lang))
            .collect())
    }

    /// Referrals of case `case_id` still under way (made or accepted) for `service`, to
    /// any agency: shown before a new one is made, so the client does not get the same
    /// service twice (issue #15, no duplicate services). Offline.
    pub fn active_referrals_for_service(
        &self,
        case_id: String,
        service: ReferralService,
    ) -> Result<Vec<Referral>, CasesyncError> {
        let case = self.get_case(case_id)?;
        Ok(case
            .referrals
            .into_values()
            .filter(|r| r.service == service && r.is_active())
            .collect())
    }
}
