//! Tokens over the simulated link: refresh-token rotation whose answer may be lost, the
//! retry with the spent token, and the password login a revoked token family asks for.
//!
//! The phone model follows the FFI: a refresh answer lost on the link leaves the phone
//! with its old token, which it presents again (at once, as the transport's retry does,
//! or at a later step, outside the grace window). `refresh_reused` (login required)
//! keeps the store and the outbox; only `device_revoked` (the administrator's revoke)
//! wipes the phone.

use casesync_server::error::AppError;

use super::{e, Sim, Status, R};

impl<'a> Sim<'a> {
    /// Lets one step of simulated time pass (longer than the refresh grace window).
    pub fn tick(&mut self) {
        self.step += 1;
    }

    /// Device `d` refreshes its tokens; with `lose`, the server's answer is lost on the
    /// link after the server handled the request.
    pub fn refresh(&mut self, d: usize, lose: bool) -> R<()> {
        let name = self.name(d);
        let now = self.now_ms();
        let up = self.net.is_up(d);
        let dev = self.dev(d)?;
        if dev.status == Status::Wiped || dev.signed_out {
            return Ok(());
        }
        if !up {
            self.note(format!("{name} cannot refresh (link down)"));
            return Ok(());
        }
        let retry = dev.lost_successor.is_some();
        let result = self.server.refresh(&dev.refresh_token, &dev.id, now);
        match result {
            Ok(tokens) => {
                let dev = self.devices.get_mut(d).ok_or("no device")?;
                if let Some(lost) = dev.lost_successor.take() {
                    if lost != tokens.refresh_token {
                        return Err(format!(
                            "REFRESH NOT IDEMPOTENT: {name}'s retry with the spent token got \
                             another successor than the lost answer"
                        ));
                    }
                }
                if lose {
                    dev.lost_successor = Some(tokens.refresh_token);
                    self.stats.lost_refreshes += 1;
                    self.note(format!(
                        "{name} refreshes{}: the answer is lost",
                        if retry { " again" } else { "" }
                    ));
                } else {
                    dev.refresh_token = tokens.refresh_token;
                    self.note(format!(
                        "{name} refreshes{}",
                        if retry {
                            " again with the spent token: same successor"
                        } else {
                            ""
                        }
                    ));
                }
                Ok(())
            }
            Err(AppError::RefreshReused) => {
                if !retry {
                    return Err(format!(
                        "{name}'s own current refresh token was called reused"
                    ));
                }
                let dev = self.devices.get_mut(d).ok_or("no device")?;
                dev.lost_successor = None;
                dev.signed_out = true;
                self.stats.sign_ins += 1;
                self.note(format!(
                    "{name} refreshes with the spent token after the grace window: \
                     login required (store kept)"
                ));
                Ok(())
            }
            Err(AppError::DeviceRevoked) => self.wipe_revoked(d, "refresh"),
            Err(x) => Err(format!("{name} refresh failed: {x}")),
        }
    }

    /// Device `d`, signed out by a revoked token family, logs in with the password.
    pub fn sign_in(&mut self, d: usize) -> R<()> {
        let name = self.name(d);
        let dev = self.dev(d)?;
        if dev.status == Status::Wiped || !dev.signed_out || !self.net.is_up(d) {
            return Ok(());
        }
        match self.server.login(&dev.user, &dev.id) {
            Ok(tokens) => {
                let dev = self.devices.get_mut(d).ok_or("no device")?;
                dev.refresh_token = tokens.refresh_token;
                dev.signed_out = false;
                self.note(format!("{name} signs in with the password"));
                Ok(())
            }
            Err(AppError::DeviceRevoked) => self.wipe_revoked(d, "login"),
            Err(x) => Err(format!("{name} login failed: {x}")),
        }
    }

    /// The server said `device_revoked` to device `d`'s `what`: the phone erases its
    /// store, which is right only when the administrator revoked it.
    fn wipe_revoked(&mut self, d: usize, what: &str) -> R<()> {
        let name = self.name(d);
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        if dev.status != Status::Revoked {
            let unsent = dev.store.unsent().map_err(e)?;
            return Err(format!(
                "WIPED WITHOUT ADMIN REVOKE: {name}'s {what} answered device_revoked; \
                 wiping would destroy {} unsent change(s) in {} case(s)",
                unsent.unsent_changes, unsent.unsent_cases
            ));
        }
        let report = dev.store.wipe().map_err(e)?;
        dev.status = Status::Wiped;
        dev.session = None;
        dev.waiting = None;
        self.note(format!(
            "{name}'s {what}: device revoked, wiped ({} unsent change(s) in {} case(s) destroyed)",
            report.unsent_changes, report.unsent_cases
        ));
        Ok(())
    }
}
