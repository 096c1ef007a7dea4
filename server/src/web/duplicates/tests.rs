//! The district index of possible duplicates, without a server: what a new, changed,
//! unchanged or closed case does to the pairs, and what a check costs.

use std::time::Instant;

use casesync_core::case::{device_actor, CaseDoc, Closure, EditCtx, NewCase, Role};

use super::*;

const FIRST: &[&str] = &[
    "নাসরিন",
    "ফাতেমা",
    "রহিমা",
    "مریم",
    "زهرا",
    "فاطمه",
    "สมหญิง",
    "มาลี",
    "Lan",
    "Hoa",
    "Thu",
    "Mai",
    "Linh",
    "Karim",
    "Rafiq",
    "علی",
    "محمد",
    "สมชาย",
    "บุญมี",
    "Nam",
];
const LAST: &[&str] = &[
    "আক্তার",
    "বেগম",
    "ইসলাম",
    "احمدی",
    "حسینی",
    "کریمی",
    "ใจดี",
    "รักไทย",
    "ศรีสุข",
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Võ",
    "Hossain",
    "Rahman",
    "موسوی",
    "แก้วมณี",
    "Đặng",
    "Bùi",
];
const VILLAGES: &[&str] = &["গোয়াইনঘাট", "ده‌نو", "บ้านหนองบัว", "Xã Tân Phú", "Char Kukri"];

fn template() -> Case {
    CaseDoc::create(
        &EditCtx::new("coord", Role::Coordinator, 1_767_225_600_000),
        device_actor("server:test"),
        &NewCase {
            id: "c-0".into(),
            district: "d".into(),
            village: String::new(),
            assigned_to: "chw1".into(),
            sensitive: false,
            client_name: "x".into(),
        },
    )
    .expect("create")
    .read()
    .expect("read")
}

/// Case `i` of a synthetic district: 400 names (first × last) in four scripts, five
/// villages, ages 16..80, a phone for every other client.
fn synthetic(base: &Case, i: usize) -> Case {
    let mut c = base.clone();
    c.id = format!("c-{i:05}");
    c.client.name = format!("{} {}", FIRST[i % 20], LAST[(i / 20) % 20]);
    c.village = VILLAGES[(i / 400) % 5].into();
    c.client.age_estimate = Some(16 + ((i * 7919) % 64) as u32);
    c.client.phone = i
        .is_multiple_of(2)
        .then(|| format!("01711{:06}", (i * 104_729) % 1_000_000));
    c
}

fn pairs_of(d: &Dups, id: &str) -> Vec<String> {
    d.pairs
        .keys()
        .filter_map(|(a, b)| {
            if a == id {
                Some(b.clone())
            } else if b == id {
                Some(a.clone())
            } else {
                None
            }
        })
        .collect()
}

/// Cases of the synthetic district: 2,000 by default (a debug build checks a case in
/// milliseconds); `CASESYNC_DEDUP_CASES=10000` measures the district size.
fn district_size() -> usize {
    std::env::var("CASESYNC_DEDUP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1_000..=100_000).contains(n))
        .unwrap_or(2_000)
}

#[test]
fn new_changed_and_closed_cases_in_a_district() {
    let n = district_size();
    let base = template();
    let mut d = Dups::default();
    let started = Instant::now();
    for i in 0..n {
        d.update(&synthetic(&base, i));
    }
    let build = started.elapsed();
    assert_eq!(d.persons.len(), n);

    // A second registration of a client: her name in another spelling, the same
    // phone typed another way, a year older.
    let first = synthetic(&base, n / 2 + 42);
    let mut again = first.clone();
    again.id = "c-new".into();
    again.client.name = first.client.name.to_uppercase().replace(' ', "  ");
    again.client.phone = first
        .client
        .phone
        .as_ref()
        .map(|p| format!("+880 {}", &p[1..]));
    again.client.age_estimate = first.client.age_estimate.map(|a| a + 1);
    let started = Instant::now();
    d.update(&again);
    let one = started.elapsed();
    assert!(
        pairs_of(&d, "c-new").contains(&first.id),
        "{:?}",
        pairs_of(&d, "c-new")
    );
    eprintln!(
        "duplicate index, {n} cases: built in {build:?} ({:?} per case), a new case checked in {one:?}",
        build / n as u32
    );

    // Unchanged client (another edit of the case): the pairs stand.
    let before = pairs_of(&d, "c-new");
    d.update(&again);
    assert_eq!(pairs_of(&d, "c-new"), before);
    // Changed so it no longer matches: the pair goes.
    let mut moved = again.clone();
    moved.client.name = "Somebody Else Entirely".into();
    moved.client.phone = Some("0999999999".into());
    d.update(&moved);
    assert!(!pairs_of(&d, "c-new").contains(&first.id));
    // Back, then closed as a duplicate: it leaves the index and every pair.
    d.update(&again);
    assert!(pairs_of(&d, "c-new").contains(&first.id));
    let mut closed = again.clone();
    closed.closure = Some(Closure {
        date: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).expect("date"),
        reason: ClosureReason::Duplicate,
        client_agreed: false,
        summary: String::new(),
        duplicate_of: Some(first.id.clone()),
    });
    d.update(&closed);
    assert!(pairs_of(&d, "c-new").is_empty());
    assert_eq!(d.persons.len(), n);
    d.remove(&first.id);
    assert!(pairs_of(&d, &first.id).is_empty());
    assert_eq!(d.persons.len(), n - 1);
}
