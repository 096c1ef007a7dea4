//! What the `uniffi` feature adds (enabled by casesync-ffi only; the server never builds
//! it). The core's records and enums derive `uniffi::Record` / `uniffi::Enum` where they
//! are defined; this module holds the few places where the shape the Kotlin app sees
//! differs from the core's type, as uniffi custom types:
//!
//! - **Dates** (`NaiveDate`) are `"YYYY-MM-DD"` strings (`typealias NaiveDate = String`
//!   in Kotlin). Only records the app *reads* carry them: the input records with dates
//!   are casesync-ffi's own, which parse them in the call so a malformed date is a
//!   `CasesyncException.Invalid` naming the field (a failed lift here would not be).
//! - **Collections kept by id** (`BTreeMap<String, T>`) are lists in id order: goals,
//!   referrals and visits as they are (each carries its id), household members and extra
//!   assessment fields as entries with their key. A Kotlin `Map` would lose that order
//!   (uniffi lowers only `HashMap`) and the app shows these as lists.
//! - **A conflict's value** (`serde_json::Value`) is its JSON text.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::case::{ExtraValue, Goal, HouseholdMember, Referral, Visit};

uniffi::custom_type!(
    /// A calendar date, `"YYYY-MM-DD"` (ISO 8601, e.g. `"2025-03-14"`; Kotlin reads it with
    /// `java.time.LocalDate.parse`).
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
