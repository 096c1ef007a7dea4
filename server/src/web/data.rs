//! The cases a dashboard user may see, read through the sync engine and kept current
//! through the change log.
//!
//! [`CaseCache`] keeps, per scope key (a district, or a worker), every case indexed
//! under it, read into a [`Loaded`] (the case and its conflicts), and the sequence number
//! it is current to. A request first reads the log entries of its keys after that
//! number and rereads just those cases, so a page costs a few reads once the cache is
//! warm, and never shows a case older than the last change stored before the request.
//!
//! It is the dashboard's read model, not a second cache of documents: it holds no
//! Automerge document, only what the pages show (the read `Case`, which the lists, the
//! filters and the indicators need for every case in scope: reading it again from the
//! document on every page would be most of a page's work). Documents are loaded through
//! the engine ([`SyncEngine::with_case`]): a case a push keeps loaded is read from the
//! engine's one document cache, any other is loaded from the store without being kept
//! (the dashboard's reads do not push the cases being synced out of that cache).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use casesync_core::case::{Case, CaseDoc, Conflict};
use chrono::NaiveDate;

use super::duplicates::{DupPair, Dups};
use crate::store::{ScopeKey, Storage, StoreError, UserRecord};
use crate::sync::scope::{can_read, scope_keys};
use crate::sync::SyncEngine;

/// One case as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The case.
    pub case: Case,
    /// Its fields with concurrent values.
    pub conflicts: Vec<Conflict>,
}

#[derive(Debug, Default)]
struct ScopeCache {
    loaded: bool,
    upto: u64,
    docs: BTreeMap<String, Arc<Loaded>>,
    /// A district's possible duplicate clients: for district keys, from the first time
    /// they are asked for (`duplicates_for`); `None` until then.
    dups: Option<Dups>,
}

/// Cases by scope key, kept current through the change log.
#[derive(Debug, Default)]
pub struct CaseCache {
    scopes: Mutex<HashMap<ScopeKey, ScopeCache>>,
}

/// Ids listed per call of `Storage::doc_ids`.
const ID_BATCH: usize = 500;

/// Reads one case; `None` if unknown or erased. A case that does not load is logged (by
/// id) and skipped.
pub fn load(store: &dyn Storage, id: &str) -> Result<Option<(Loaded, CaseDoc)>, StoreError> {
    let Some(bytes) = store.doc_bytes(id)? else {
        return Ok(None);
    };
    let mut doc = match CaseDoc::load(&bytes) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(doc = %id, error = %e, "stored case does not load");
            return Ok(None);
        }
    };
    let case = match doc.read() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(doc = %id, error = %e, "stored case does not read");
            return Ok(None);
        }
    };
    let conflicts = doc.conflicts();
    Ok(Some((Loaded { case, conflicts }, doc)))
}

/// Reads one case through the engine ([`SyncEngine::with_case`]); `None` if unknown,
/// erased, or not readable (logged by id).
fn read_via(engine: &SyncEngine, id: &str) -> Result<Option<Loaded>, StoreError> {
    let read = engine.with_case(id, |doc| match doc.read() {
        Ok(case) => Some(Loaded {
            case,
            conflicts: doc.conflicts(),
        }),
        Err(e) => {
            tracing::warn!(doc = %id, error = %e, "stored case does not read");
            None
        }
    })?;
    Ok(read.flatten())
}

fn under(key: &ScopeKey, case: &Case) -> bool {
    match key {
        ScopeKey::District(d) => &case.district == d,
        ScopeKey::User(u) => &case.assigned_to == u,
    }
}

impl CaseCache {
    fn locked(&self) -> Result<MutexGuard<'_, HashMap<ScopeKey, ScopeCache>>, StoreError> {
        self.scopes
            .lock()
            .map_err(|_| StoreError::Db("dashboard cache lock poisoned".into()))
    }

    /// Drops case `id` from every scope (it was erased).
    pub fn forget(&self, id: &str) {
        let mut scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        for scope in scopes.values_mut() {
            scope.docs.remove(id);
            if let Some(d) = scope.dups.as_mut() {
                d.remove(id);
            }
        }
    }

    /// Whether case `id` is held in any scope.
    pub fn holds(&self, id: &str) -> bool {
        let scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        scopes.values().any(|s| s.docs.contains_key(id))
    }

    fn refresh(
        &self,
        engine: &SyncEngine,
        key: &ScopeKey,
        scopes: &mut HashMap<ScopeKey, ScopeCache>,
    ) -> Result<(), StoreError> {
        let store = engine.store().as_ref();
        let last = store.last_seq()?;
        let entry = scopes.entry(key.clone()).or_default();
        if !entry.loaded {
            let mut after = String::new();
            loop {
                let ids = store.doc_ids(key, &after, ID_BATCH)?;
                let Some(tail) = ids.last().cloned() else {
                    break;
                };
                for id in ids {
                    if let Some(l) = read_via(engine, &id)? {
                        if under(key, &l.case) {
                            if let Some(d) = entry.dups.as_mut() {
                                d.update(&l.case);
                            }
                            entry.docs.insert(id, Arc::new(l));
                        }
                    }
                }
                after = tail;
            }
            entry.loaded = true;
        } else if entry.upto < last {
            let changed: BTreeSet<String> = store
                .log(key, entry.upto, last)?
                .into_iter()
                .map(|e| e.doc_id)
                .collect();
            for id in changed {
                match read_via(engine, &id)? {
                    Some(l) if under(key, &l.case) => {
                        if let Some(d) = entry.dups.as_mut() {
                            d.update(&l.case);
                        }
                        entry.docs.insert(id, Arc::new(l));
                    }
                    _ => {
                        if let Some(d) = entry.dups.as_mut() {
                            d.remove(&id);
                        }
                        entry.docs.remove(&id);
                    }
                }
            }
        }
        entry.upto = last;
        Ok(())
    }

    /// The possible duplicate pairs among the cases `user` may read (both cases in
    /// scope, not decided different people), best first. Blocking.
    pub fn duplicates_for(
        &self,
        engine: &SyncEngine,
        user: &UserRecord,
    ) -> Result<Vec<DupPair>, StoreError> {
        let mut scopes = self.locked()?;
        let mut out = Vec::new();
        for key in scope_keys(user) {
            if !matches!(key, ScopeKey::District(_)) {
                continue;
            }
            self.refresh(engine, &key, &mut scopes)?;
            if let Some(s) = scopes.get_mut(&key) {
                // Built at the first look at the district's duplicates (one check per
                // case), then kept current by `refresh` (one per case it rereads).
                let docs = &s.docs;
                let d = s.dups.get_or_insert_with(|| {
                    let mut d = Dups::default();
                    for l in docs.values() {
                        d.update(&l.case);
                    }
                    d
                });
                out.extend(d.pairs_in(&s.docs, user));
            }
        }
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.newer.case.id.cmp(&b.newer.case.id))
        });
        Ok(out)
    }

    /// Every case of district `district` (sensitive ones included: the caller decides
    /// what of them is shown, e.g. `crate::agencies::shares_with`). Blocking.
    pub fn district_cases(
        &self,
        engine: &SyncEngine,
        district: &str,
    ) -> Result<Vec<Arc<Loaded>>, StoreError> {
        let mut scopes = self.locked()?;
        let key = ScopeKey::District(district.to_owned());
        self.refresh(engine, &key, &mut scopes)?;
        Ok(scopes
            .get(&key)
            .map(|s| s.docs.values().cloned().collect())
            .unwrap_or_default())
    }

    /// Every case `user` may read, by id. Blocking: call from a blocking task.
    pub fn cases_for(
        &self,
        engine: &SyncEngine,
        user: &UserRecord,
    ) -> Result<Vec<Arc<Loaded>>, StoreError> {
        let mut scopes = self.locked()?;
        let mut out: BTreeMap<String, Arc<Loaded>> = BTreeMap::new();
        for key in scope_keys(user) {
            self.refresh(engine, &key, &mut scopes)?;
            if let Some(s) = scopes.get(&key) {
                for (id, l) in &s.docs {
                    let routing = crate::store::Routing {
                        district: l.case.district.clone(),
                        assigned_to: l.case.assigned_to.clone(),
                        sensitive: l.case.sensitive,
                    };
                    if can_read(user, &routing) {
                        out.insert(id.clone(), l.clone());
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }
}

/// Today's date (UTC), the date every indicator is computed for.
pub fn today() -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(crate::now_ms())
        .map_or(NaiveDate::MIN, |d| d.date_naive())
}

/// Whether a case has a follow-up due before `today`.
pub fn overdue(case: &Case, today: NaiveDate) -> bool {
    case.follow_up_dates().iter().any(|(_, _, d)| *d < today)
}

/// Text folded for search, so that what people type finds what was stored:
/// - lower case, canonical decomposition (NFD), and the accents of Latin letters
///   dropped: `nguyen` finds `Nguyễn`, `Đông` is `dong`;
/// - Arabic-script variants unified: Arabic ي/ى and ك are Persian ی and ک, أ إ آ ٱ are
///   ا, ة is ه, ۀ is ه; short vowels and other harakat, tatweel and the zero-width
///   non-joiner are dropped;
/// - Persian, Arabic-Indic and Bengali digits are Latin digits;
/// - other scripts (Bengali, Thai) keep their marks: they are letters there.
pub fn fold(s: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    let mut base_latin = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            // Latin accents (and the Latin-only combining block) go; Arabic harakat,
            // hamza above/below and madda go; marks of other scripts stay.
            let arabic_mark = matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}');
            if (base_latin && matches!(c, '\u{0300}'..='\u{036F}')) || arabic_mark {
                continue;
            }
            out.push(c);
            continue;
        }
        base_latin = c.is_ascii_alphabetic()
            || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}');
        let mapped = match c {
            'đ' | 'Đ' => 'd',
            'ı' => 'i',
            'ي' | 'ى' | 'ئ' => 'ی',
            'ك' => 'ک',
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ة' | 'ۀ' => 'ه',
            'ؤ' => 'و',
            '\u{0640}' | '\u{200C}' | '\u{200D}' => continue,
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '০'..='৯' => char::from(b'0' + (c as u32 - '০' as u32) as u8),
            c => c,
        };
        out.extend(mapped.to_lowercase());
    }
    out.nfc().collect()
}

/// A case list's filters (the query string of `/dashboard/cases` and of the CSV export).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Filters {
    /// Name substring.
    #[serde(default)]
    pub q: String,
    /// Stage (stable name), empty for any.
    #[serde(default)]
    pub stage: String,
    /// Assigned worker, empty for any.
    #[serde(default)]
    pub chw: String,
    /// Village, empty for any.
    #[serde(default)]
    pub village: String,
    /// Only cases with an overdue follow-up (`1`).
    #[serde(default)]
    pub overdue: String,
    /// Page, from 1 (anything else: the first).
    #[serde(default)]
    pub page: String,
    /// Order: `name` (the client's name, in the reader's collation), else by id.
    #[serde(default)]
    pub sort: String,
}

impl Filters {
    /// Whether `case` passes.
    pub fn matches(&self, case: &Case, today: NaiveDate) -> bool {
        let q = self.q.trim();
        (q.is_empty() || fold(&case.client.name).contains(&fold(q)))
            && (self.stage.is_empty() || case.stage.as_str() == self.stage)
            && (self.chw.is_empty() || case.assigned_to == self.chw)
            && (self.village.is_empty() || fold(&case.village) == fold(&self.village))
            && (self.overdue != "1" || overdue(case, today))
    }

    /// The query string of these filters (without the page), for links.
    pub fn query(&self) -> String {
        serde_urlencoded_like(self)
    }
}

fn serde_urlencoded_like(f: &Filters) -> String {
    let pairs = [
        ("q", &f.q),
        ("stage", &f.stage),
        ("chw", &f.chw),
        ("village", &f.village),
        ("overdue", &f.overdue),
        ("sort", &f.sort),
    ];
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value (everything but unreserved ASCII).
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod fold_tests {
    use super::fold;

    fn finds(stored: &str, typed: &str) -> bool {
        fold(stored).contains(&fold(typed))
    }

    #[test]
    fn search_folds_accents_case_and_letter_variants() {
        // Vietnamese: no accents, no case, đ as d.
        assert!(finds("Nguyễn Thị Lan", "nguyen"));
        assert!(finds("Nguyễn Thị Lan", "NGUYỄN thi"));
        assert!(finds("Xã Đông Hưng", "dong hung"));
        // Decomposed input finds composed storage.
        assert!(finds("Nguyễn", "Nguye\u{0302}\u{0303}n"));
        // Persian/Arabic letter variants, harakat, ZWNJ, tatweel.
        assert!(finds("علی کریمی", "علي كريمي"));
        assert!(finds("مریم احمدی", "مريم"));
        assert!(finds("زهرا محمدی", "زهـرا"));
        assert!(finds("ده‌نو", "دهنو"));
        assert!(finds("آرش", "ارش"));
        assert!(finds("فاطمة", "فاطمه"));
        assert!(finds("مُحَمَّد", "محمد"));
        // Digits in any script.
        assert!(finds("خانه ۱۲", "12"));
        assert!(finds("বাড়ি ১২", "১২"));
        // Bengali and Thai keep their vowel signs: a different word is not found.
        assert!(finds("রহিমা বেগম", "রহিমা"));
        assert!(!finds("রহিমা", "রহমা"));
        assert!(finds("สมชาย ใจดี", "สมชาย"));
        assert!(!finds("สมชาย", "สมชุย"));
        assert!(!finds("Nguyễn", "nguyenx"));
    }
}
