//! What the `uniffi` feature adds (enabled by casesync-ffi only; the server never builds
//! it). The core's records and enums derive `uniffi::Record` / `uniffi::Enum` where they
//! are defined; this module holds the few places where the shape the Kotlin app sees
//! differs from the core's type, as uniffi custom types:
//!
//! - **Dates** (`NaiveDate`) cross as `"YYYY-MM-DD"` text and are `java.time.LocalDate`
//!   in Kotlin (`core/uniffi.toml`), in what the app reads and in what it passes
//!   (casesync-ffi's input records and calls use this type too). Years past 9999 carry a
//!   sign (`+10000-01-01`) both in chrono and in `LocalDate`.
//! - **Collections kept by id** (`BTreeMap<String, T>`) are lists in id order: goals,
//!   referrals and visits as they are (each carries its id), household members and extra
//!   assessment fields as entries with their key. A Kotlin `Map` would lose that order
//!   (uniffi lowers only `HashMap`) and the app shows these as lists.
//! - **A conflict's value** (`serde_json::Value`) is its JSON text.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::case::{ExtraValue, Goal, HouseholdMember, Referral, Visit};

uniffi::custom_type!(
    /// A calendar date: `java.time.LocalDate` in Kotlin, `"YYYY-MM-DD"` on the wire.
    NaiveDate, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| Ok(NaiveDate::parse_from_str(&s, "%Y-%m-%d")?),
});

/// A JSON value (uniffi names a custom type after a single identifier).
type JsonValue = serde_json::Value;
uniffi::custom_type!(
    /// A JSON value as text, e.g. `"high"`, `3`, `true`, `null`.
    JsonValue, String, {
    remote,
    lower: |v| v.to_string(),
    try_lift: |s| Ok(serde_json::from_str(&s)?),
});

/// A household member with their id (the core keeps them in a map by id).
#[derive(uniffi::Record)]
#[uniffi(name = "HouseholdMember")]
pub struct HouseholdEntry {
    /// Member id (unique within the case).
    pub id: String,
    /// Name (any script).
    pub name: String,
    /// Relation to the client (e.g. "mother").
    pub relation: String,
}

/// A programme-defined assessment field with its key (the core keeps them in a map).
#[derive(uniffi::Record)]
pub struct ExtraField {
    /// Field name.
    pub key: String,
    /// Its value.
    pub value: ExtraValue,
}

/// Household members by id.
type Household = BTreeMap<String, HouseholdMember>;
uniffi::custom_type!(
    /// Household members, in id order.
    Household, Vec<HouseholdEntry>, {
    remote,
    lower: |m| m
        .into_iter()
        .map(|(id, m)| HouseholdEntry { id, name: m.name, relation: m.relation })
        .collect(),
    try_lift: |v| by_key(v.into_iter().map(|e| (e.id, HouseholdMember { name: e.name, relation: e.relation }))),
});

/// Extra assessment fields by key.
type ExtraFields = BTreeMap<String, ExtraValue>;
uniffi::custom_type!(
    /// Programme-defined assessment fields, in key order.
    ExtraFields, Vec<ExtraField>, {
    remote,
    lower: |m| m.into_iter().map(|(key, value)| ExtraField { key, value }).collect(),
    try_lift: |v| by_key(v.into_iter().map(|f| (f.key, f.value))),
});

/// Goals by id.
type Goals = BTreeMap<String, Goal>;
uniffi::custom_type!(
    /// Service-plan goals, in id order.
    Goals, Vec<Goal>, {
    remote,
    lower: |m| m.into_values().collect(),
    try_lift: |v| by_key(v.into_iter().map(|g| (g.id.clone(), g))),
});

/// Referrals by id.
type Referrals = BTreeMap<String, Referral>;
uniffi::custom_type!(
    /// Referrals, in id order.
    Referrals, Vec<Referral>, {
    remote,
    lower: |m| m.into_values().collect(),
    try_lift: |v| by_key(v.into_iter().map(|r| (r.id.clone(), r))),
});

/// Visits by id.
type Visits = BTreeMap<String, Visit>;
uniffi::custom_type!(
    /// Visits, in id order.
    Visits, Vec<Visit>, {
    remote,
    lower: |m| m.into_values().collect(),
    try_lift: |v| by_key(v.into_iter().map(|v| (v.id.clone(), v))),
});

/// Collects entries into a map, refusing a key given twice.
fn by_key<T>(entries: impl Iterator<Item = (String, T)>) -> uniffi::Result<BTreeMap<String, T>> {
    let mut map = BTreeMap::new();
    for (key, value) in entries {
        if map.insert(key.clone(), value).is_some() {
            return Err(uniffi::deps::anyhow::anyhow!("\"{key}\" is listed twice"));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use uniffi::{Lift, Lower};

    use super::*;
    use crate::case::VisitKind;
    use crate::UniFfiTag;

    /// What Kotlin would read: `v` written as `T`, read back as `U`.
    fn as_kotlin_sees<T: Lower<UniFfiTag>, U: Lift<UniFfiTag>>(v: T) -> uniffi::Result<U> {
        let mut buf = Vec::new();
        T::write(v, &mut buf);
        U::try_read(&mut buf.as_slice())
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
    }

    #[test]
    fn dates_are_iso_strings_and_a_bad_one_is_an_error() {
        let s: String = as_kotlin_sees(date("2025-03-09")).expect("lowers");
        assert_eq!(s, "2025-03-09");
        let d: NaiveDate = as_kotlin_sees("2025-03-09".to_string()).expect("lifts");
        assert_eq!(d, date("2025-03-09"));
        assert!(as_kotlin_sees::<String, NaiveDate>("09/03/2025".into()).is_err());
    }

    #[test]
    fn id_keyed_maps_are_lists_in_id_order() {
        let visit = |id: &str| Visit {
            id: id.into(),
            date: date("2025-03-09"),
            by: "u1".into(),
            kind: VisitKind::Home,
            notes: String::new(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        };
        let visits: Visits = [("b", visit("b")), ("a", visit("a"))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let list: Vec<Visit> = as_kotlin_sees(visits.clone()).expect("lowers");
        assert_eq!(
            list.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            as_kotlin_sees::<Vec<Visit>, Visits>(list).expect("lifts"),
            visits
        );
        let twice = vec![visit("a"), visit("a")];
        assert!(as_kotlin_sees::<Vec<Visit>, Visits>(twice).is_err());

        let household: Household = [(
            "m1".to_string(),
            HouseholdMember {
                name: "Rahima".into(),
                relation: "mother".into(),
            },
        )]
        .into();
        let entries: Vec<HouseholdEntry> = as_kotlin_sees(household).expect("lowers");
        assert_eq!(
            (entries[0].id.as_str(), entries[0].name.as_str()),
            ("m1", "Rahima")
        );
        let extra: ExtraFields = [("muac_cm".to_string(), ExtraValue::Float(11.5))].into();
        let fields: Vec<ExtraField> = as_kotlin_sees(extra).expect("lowers");
        assert_eq!(fields[0].key, "muac_cm");
        assert_eq!(fields[0].value, ExtraValue::Float(11.5));
    }
}
