//! Registered agencies and the referrals they receive (issue #15), as JSON on the wire:
//! the directory the phone refers from (`GET /v1/agencies`), and what a referral shares
//! with the agency it is addressed to (`GET /v1/agency/referrals`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::case::{ReferralService, ReferralStatus};

/// Most agencies in a directory.
pub const MAX_AGENCIES: usize = 1_000;
/// Most names (languages) of one agency.
pub const MAX_AGENCY_NAMES: usize = 16;
/// Longest agency name, bytes.
pub const MAX_AGENCY_NAME_BYTES: usize = 200;
/// Most districts one agency serves.
pub const MAX_AGENCY_DISTRICTS: usize = 256;

/// A registered agency: another organisation clients are referred to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    /// Id: 1 to 64 of `A-Z a-z 0-9 _ -` (what a referral's `agency_id` names).
    pub id: String,
    /// Its name by language tag (`bn`, `fa`, `en`...): at least one.
    pub names: BTreeMap<String, String>,
    /// Services it offers.
    #[serde(default)]
    pub services: Vec<ReferralService>,
    /// Districts it serves: workers of those districts refer to it, and it sees the
    /// referrals made to it there.
    #[serde(default)]
    pub districts: Vec<String>,
    /// No longer taking referrals (kept so past referrals still name it).
    #[serde(default)]
    pub disabled: bool,
}

impl Agency {
    /// Its name in `lang`, else in English, else its first, else its id.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names
            .get(lang)
            .or_else(|| self.names.get("en"))
            .or_else(|| self.names.values().next())
            .map_or(self.id.as_str(), String::as_str)
    }

    /// Whether it takes referrals for `service` from `district`.
    pub fn serves(&self, district: &str, service: ReferralService) -> bool {
        !self.disabled
            && self.districts.iter().any(|d| d == district)
            && (self.services.is_empty() || self.services.contains(&service))
    }

    /// Checks the fields against the limits above; the reason in English.
    pub fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= super::MAX_ID_LEN
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err("id: 1 to 64 of A-Z a-z 0-9 _ -".into());
        }
        if self.names.is_empty() || self.names.len() > MAX_AGENCY_NAMES {
            return Err(format!("names: 1 to {MAX_AGENCY_NAMES} languages"));
        }
        for (lang, name) in &self.names {
            let tag_ok = !lang.is_empty()
                && lang.len() <= 16
                && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !tag_ok {
                return Err("names: a language tag such as bn, fa, th, vi, en".into());
            }
            if name.trim().is_empty() || name.len() > MAX_AGENCY_NAME_BYTES {
                return Err(format!(
                    "names: each 1 to {MAX_AGENCY_NAME_BYTES} bytes, not blank"
                ));
            }
        }
        if self.districts.len() > MAX_AGENCY_DISTRICTS {
            return Err(format!("districts: at most {MAX_AGENCY_DISTRICTS}"));
        }
        if self.services.len() > 32 {
            return Err("services: at most 32".into());
        }
        Ok(())
    }
}

/// The agencies a user may refer to (`GET /v1/agencies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyDirectory {
    /// By id.
    pub agencies: Vec<Agency>,
}

/// A referral as the agency it is addressed to sees it: only what the referral shares
/// (the client's name and phone, the service, the referral's own reason, who referred
/// and when) and the agency's own answer; never the rest of the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedReferral {
    /// Case id (to answer it; says nothing about the case).
    pub case_id: String,
    /// Referral id within the case.
    pub referral_id: String,
    /// The client's name.
    pub client_name: String,
    /// The client's phone number, if recorded.
    pub client_phone: Option<String>,
    /// The service asked for.
    pub service: ReferralService,
    /// Why the client is referred (the referral's own text).
    pub reason: Option<String>,
    /// The user id of the worker who made it.
    pub referred_by: String,
    /// When it was made.
    pub date: NaiveDate,
    /// Where it stands.
    pub status: ReferralStatus,
    /// When the agency accepted.
    pub accepted_on: Option<NaiveDate>,
    /// When it was completed.
    pub completed_on: Option<NaiveDate>,
    /// When it was declined.
    pub declined_on: Option<NaiveDate>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// The outcome the agency recorded at completion.
    pub outcome: Option<String>,
}
