//! `dedup-bench`: how well `casesync_core::dedup` finds second registrations of the same
//! client among the local cases, and how fast, on a labelled set built from the benchmark
//! caseload.
//!
//! ```text
//! cargo run --profile production -p casesync-tests --bin dedup-bench [-- --cases 10000] [--seed 1]
//!     [--caseload DIR | --generated] [--examples 8]
//! ```
//!
//! The local cases are the first `--cases` of the caseload (recorded when it is there,
//! else generated; see `casesync_tests::caseload`), mapped into cases as the other
//! benchmarks do and indexed. Then, with `--seed` (which also seeds the generated
//! caseload):
//!
//! - **second registrations** of [`DUPLICATE_SHARE`] of the clients, each varied as a
//!   second registration by another worker would be: the name in its Latin
//!   transliteration (the caseload's `name_latin`) or a typo; the phone kept,
//!   re-formatted (national form, separators, local digits), missing or changed; the age
//!   off by up to 2 years; the village spelled differently;
//! - **hard negatives**, [`NEGATIVE_SHARE`] of the clients: new people with a common
//!   name of the caseload (its 192 names are shared by ~50 clients each), half of them in
//!   the same village, with their own phone and age; and family members sharing a
//!   client's phone, village and surname.
//!
//! Each is checked against the local cases. A listed pair is right when it is a second
//! registration and its original. Printed: precision (right pairs / listed pairs),
//! recall (second registrations whose original is listed), the share where it is listed
//! first, recall per variation, time per check (mean, median, p99), precision and recall
//! listing from other scores than the default, and examples of what was missed and
//! wrongly listed.

use std::time::{Duration, Instant};

use anyhow::Context;
use casesync_core::case::Sex;
use casesync_core::dedup::{self, DuplicateIndex, Person};
use casesync_tests::caseload::{to_case, BenchCase, CaseloadArgs, CaseloadSource};
use clap::Parser;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Share of the clients registered a second time.
const DUPLICATE_SHARE: f64 = 0.10;
/// Share of the clients for whom a hard negative is made.
const NEGATIVE_SHARE: f64 = 0.10;
/// Scores from which the trade-off table lists pairs.
const TRADEOFF_THRESHOLDS: &[f32] = &[5.0, 5.5, 6.0, 6.5, 7.0, 7.5];
/// Margins below the best match the trade-off table lists pairs within (infinite: every
/// candidate from the score, as before the margin).
const TRADEOFF_MARGINS: &[f32] = &[0.0, 0.25, 0.5, 1.0, f32::INFINITY];
/// Draws tried for a family member's given name.
const MAX_DRAWS: usize = 1_000;
/// Targets of issue #15.
const TARGET_PRECISION: f64 = 0.95;
const TARGET_RECALL: f64 = 0.90;
const TARGET_MS_PER_CHECK: f64 = 20.0;

#[derive(Debug, Parser)]
#[command(about = "Precision, recall and speed of duplicate-client matching")]
struct Args {
    /// How many local cases (the first N of the caseload).
    #[arg(long, default_value_t = 10_000)]
    cases: usize,
    #[command(flatten)]
    caseload: CaseloadArgs,
    /// How many missed and wrongly listed examples to print.
    #[arg(long, default_value_t = 8)]
    examples: usize,
}

/// The variations a second registration got (for recall per variation).
#[derive(Debug, Clone, Default)]
struct Variation {
    transliterated: bool,
    typo: bool,
    phone: PhoneChange,
    age_changed: bool,
    village_changed: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum PhoneChange {
    #[default]
    Same,
    Reformatted,
    Missing,
    Changed,
}

impl PhoneChange {
    fn describe(self) -> &'static str {
        match self {
            PhoneChange::Same => "kept",
            PhoneChange::Reformatted => "re-formatted",
            PhoneChange::Missing => "missing",
            PhoneChange::Changed => "changed",
        }
    }
}

struct Query {
    person: Person,
    /// The local case it is a second registration of (None: a hard negative).
    original: Option<usize>,
    variation: Variation,
    label: &'static str,
}

fn birth_year(b: &BenchCase) -> Option<i32> {
    Person::from_case(&to_case(b, "d")).birth_year
}

/// One typo in one word of `s`: a letter dropped, doubled, or two swapped.
fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let w = rng.gen_range(0..words.len());
    let mut chars: Vec<char> = words[w].chars().collect();
    if chars.len() >= 3 {
        let i = rng.gen_range(1..chars.len());
        match rng.gen_range(0..3) {
            0 => {
                chars.remove(i);
            }
            1 => chars.insert(i, chars[i]),
            _ => chars.swap(i - 1, i),
        }
    }
    let word: String = chars.into_iter().collect();
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    out[w] = word;
    out.join(" ")
}

/// Digits of `d` (ASCII) in the script of `region`.
fn local_digits(region: &str, s: &str) -> String {
    let zero = match region {
        "bd" => 0x09E6,
        "th" => 0x0E50,
        "ir" => 0x06F0,
        _ => return s.to_owned(),
    };
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(zero + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// The phone in national form with separators, sometimes in local digits.
fn reformat(rng: &mut ChaCha8Rng, region: &str, phone: &str) -> String {
    let national = dedup::phone::national_number(phone).unwrap_or_else(|| phone.to_owned());
    let mut s = format!("0{national}");
    let cut = 4.min(s.len());
    if rng.gen_bool(0.5) {
        s.insert(cut, '-');
    } else {
        s.insert(cut, ' ');
    }
    if rng.gen_bool(0.3) {
        s = local_digits(region, &s);
    }
    s
}

fn other_phone(rng: &mut ChaCha8Rng, phone: &str) -> String {
    let keep = phone.len().saturating_sub(7);
    let mut s = phone[..keep].to_owned();
    for _ in 0..7 {
        s.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
    s
}

fn village_variant(rng: &mut ChaCha8Rng, village: &str) -> String {
    if let Some(rest) = village.strip_prefix("บ้าน") {
        if rng.gen_bool(0.5) {
            return rest.to_owned();
        }
        return format!("บ้าน {rest}");
    }
    if rng.gen_bool(0.3)
        && village
            .chars()
            .next()
            .is_some_and(|c| ('\u{0980}'..='\u{09FF}').contains(&c))
    {
        return format!("{village} গ্রাম");
    }
    typo(rng, village)
}

fn second_registration(rng: &mut ChaCha8Rng, b: &BenchCase, i: usize) -> Query {
    let mut v = Variation::default();
    let mut name = b.client.name.clone();
    if !b.client.name_latin.is_empty() && rng.gen_bool(0.4) {
        name = b.client.name_latin.clone();
        v.transliterated = true;
    }
    if rng.gen_bool(0.3) {
        name = typo(rng, &name);
        v.typo = true;
    }
    let phone = b.client.phone.as_deref().map(|p| {
        let r: f64 = rng.gen();
        if r < 0.40 {
            Some(p.to_owned())
        } else if r < 0.70 {
            v.phone = PhoneChange::Reformatted;
            Some(reformat(rng, &b.region, p))
        } else if r < 0.95 {
            v.phone = PhoneChange::Missing;
            None
        } else {
            v.phone = PhoneChange::Changed;
            Some(other_phone(rng, p))
        }
    });
    let mut year = birth_year(b);
    if rng.gen_bool(0.5) {
        let d = [-2, -1, 1, 2][rng.gen_range(0..4)];
        year = year.map(|y| y + d);
        v.age_changed = true;
    }
    let mut village = b.client.village.clone();
    if rng.gen_bool(0.25) {
        village = village_variant(rng, &village);
        v.village_changed = true;
    }
    Query {
        person: Person {
            name,
            sex: b.client.sex.as_deref().and_then(Sex::parse),
            birth_year: year,
            phone: phone.flatten(),
            village,
            household: Vec::new(),
        },
        original: Some(i),
        variation: v,
        label: "second registration",
    }
}

fn hard_negative(rng: &mut ChaCha8Rng, cases: &[BenchCase], b: &BenchCase) -> Query {
    let sex = b.client.sex.as_deref().and_then(Sex::parse);
    let year = birth_year(b);
    if rng.gen_bool(0.3) {
        // A family member on the client's phone: another given name of the same sex
        // class, the same surname and village, another age.
        let surname = b.client.name.split(' ').next_back().unwrap_or_default();
        let mut other = String::from("X");
        for _ in 0..MAX_DRAWS {
            let o = &cases[rng.gen_range(0..cases.len())];
            let given = o.client.name.split(' ').next().unwrap_or_default();
            if o.region == b.region && !b.client.name.starts_with(given) {
                other = given.to_owned();
                break;
            }
        }
        let gap = rng.gen_range(6..40);
        return Query {
            person: Person {
                name: format!("{other} {surname}"),
                sex: None,
                birth_year: year.map(|y| if rng.gen_bool(0.5) { y + gap } else { y - gap }),
                phone: b.client.phone.clone(),
                village: b.client.village.clone(),
                household: Vec::new(),
            },
            original: None,
            variation: Variation::default(),
            label: "family member on the same phone",
        };
    }
    // Someone else with the same common name, in the same village half of the time.
    let village = if rng.gen_bool(0.5) {
        b.client.village.clone()
    } else {
        cases[rng.gen_range(0..cases.len())].client.village.clone()
    };
    Query {
        person: Person {
            name: b.client.name.clone(),
            sex,
            birth_year: year.map(|_| 2025 - rng.gen_range(18..80)),
            phone: b.client.phone.as_deref().map(|p| other_phone(rng, p)),
            village,
            household: Vec::new(),
        },
        original: None,
        variation: Variation::default(),
        label: "same name, different person",
    }
}

fn describe(p: &Person) -> String {
    format!(
        "{} | {} | born {} | {}",
        p.name,
        p.phone.as_deref().unwrap_or("no phone"),
        p.birth_year.map_or("?".into(), |y| y.to_string()),
        p.village
    )
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (source, why) = CaseloadSource::from_env_or_args(&args.caseload)?;
    let cases = source.load(args.cases).context("loading the caseload")?;
    anyhow::ensure!(!cases.is_empty(), "the caseload is empty");
    println!(
        "dedup-bench: {} local cases, {}",
        cases.len(),
        source.describe_why(why.as_deref())
    );

    let people: Vec<Person> = cases
        .iter()
        .map(|b| Person::from_case(&to_case(b, "d")))
        .collect();
    let started = Instant::now();
    let mut index = DuplicateIndex::new();
    for (b, p) in cases.iter().zip(&people) {
        index.insert(&b.case_id, p);
    }
    let build = started.elapsed();

    let mut rng = ChaCha8Rng::seed_from_u64(args.caseload.seed);
    let mut queries = Vec::new();
    for (i, b) in cases.iter().enumerate() {
        if rng.gen_bool(DUPLICATE_SHARE) {
            queries.push(second_registration(&mut rng, b, i));
        }
        if rng.gen_bool(NEGATIVE_SHARE) {
            queries.push(hard_negative(&mut rng, &cases, b));
        }
    }

    let (mut listed, mut right, mut found, mut first, mut dups) = (0, 0, 0, 0, 0);
    let mut times: Vec<Duration> = Vec::with_capacity(queries.len());
    let mut per_variation: Vec<(&str, usize, usize)> = Vec::new();
    let mut missed = Vec::new();
    let mut wrong = Vec::new();
    let mut wrong_by_kind: Vec<(String, usize)> = Vec::new();
    for q in &queries {
        let t = Instant::now();
        let matches = index.check(&q.person, None);
        times.push(t.elapsed());
        listed += matches.len();
        let truth = q.original.map(|i| cases[i].case_id.as_str());
        let hit = truth.is_some_and(|id| matches.iter().any(|m| m.case_id == id));
        if let Some(id) = truth {
            dups += 1;
            found += usize::from(hit);
            first += usize::from(matches.first().is_some_and(|m| m.case_id == id));
            let v = &q.variation;
            let tags = [
                ("name transliterated", v.transliterated),
                ("name with a typo", v.typo),
                ("phone kept", v.phone == PhoneChange::Same),
                ("phone re-formatted", v.phone == PhoneChange::Reformatted),
                ("phone missing", v.phone == PhoneChange::Missing),
                ("phone changed", v.phone == PhoneChange::Changed),
                ("age ±1-2", v.age_changed),
                ("village spelled differently", v.village_changed),
            ];
            for (tag, on) in tags {
                if !on {
                    continue;
                }
                match per_variation.iter_mut().find(|(t, _, _)| *t == tag) {
                    Some(e) => {
                        e.1 += 1;
                        e.2 += usize::from(hit);
                    }
                    None => per_variation.push((tag, 1, usize::from(hit))),
                }
            }
            if !hit && missed.len() < args.examples {
                let i = q.original.unwrap_or_default();
                let s = dedup::compare(&q.person, &people[i]);
                missed.push(format!(
                    "  {}\n    vs {}\n    score {:.1}: {}",
                    describe(&q.person),
                    describe(&people[i]),
                    s.score,
                    s.reasons
                        .iter()
                        .map(|r| r.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for m in &matches {
            if Some(m.case_id.as_str()) == truth {
                right += 1;
                continue;
            }
            let kind = match (q.original, q.variation.phone) {
                (None, _) => q.label.to_owned(),
                (Some(_), p) => format!("{} (phone {})", q.label, p.describe()),
            };
            match wrong_by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some(e) => e.1 += 1,
                None => wrong_by_kind.push((kind, 1)),
            }
            if wrong.len() < args.examples {
                let i = cases
                    .iter()
                    .position(|b| b.case_id == m.case_id)
                    .unwrap_or_default();
                wrong.push(format!(
                    "  [{}] {}\n    vs {}\n    score {:.1}: {}",
                    q.label,
                    describe(&q.person),
                    describe(&people[i]),
                    m.score,
                    m.reasons
                        .iter()
                        .map(|r| r.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }

    // The trade-off: precision and recall listing from other scores and margins, from
    // one search of the candidates from the lowest score.
    let lowest = TRADEOFF_THRESHOLDS
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min);
    let low: Vec<_> = queries
        .iter()
        .map(|q| (q.original, index.candidates(&q.person, None, lowest)))
        .collect();
    let mut tradeoff = Vec::new();
    for &threshold in TRADEOFF_THRESHOLDS {
        for &margin in TRADEOFF_MARGINS {
            let (mut listed, mut right) = (0usize, 0usize);
            for (original, found) in &low {
                let truth = original.map(|i| cases[i].case_id.as_str());
                let from: Vec<_> = found
                    .iter()
                    .filter(|m| m.score >= threshold)
                    .cloned()
                    .collect();
                let Ok(matches) =
                    dedup::list_best(from, margin, |_| Ok::<_, std::convert::Infallible>(true));
                for m in &matches {
                    listed += 1;
                    right += usize::from(Some(m.case_id.as_str()) == truth);
                }
            }
            tradeoff.push((threshold, margin, ratio(right, listed), ratio(right, dups)));
        }
    }

    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len().max(1) as f64;
    let median = times.get(times.len() / 2).map_or(0.0, |d| ms(*d));
    let p99 = times
        .get((times.len() * 99 / 100).min(times.len().saturating_sub(1)))
        .map_or(0.0, |d| ms(*d));
    let precision = ratio(right, listed);
    let recall = ratio(found, dups);
    let negatives = queries.len() - dups;
    let profile = if cfg!(debug_assertions) {
        "debug build: times are not the target's"
    } else {
        "release"
    };

    println!(
        "{} queries: {dups} second registrations, {negatives} hard negatives (seed {}); index built in {:.0} ms",
        queries.len(),
        args.caseload.seed,
        ms(build)
    );
    println!();
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!("| precision (right pairs / listed pairs) | {precision:.3} ({right}/{listed}) | ≥ {TARGET_PRECISION} |");
    println!("| recall (originals listed) | {recall:.3} ({found}/{dups}) | ≥ {TARGET_RECALL} |");
    println!(
        "| original listed first | {:.3} ({first}/{dups}) | |",
        ratio(first, dups)
    );
    println!("| time per check, mean ({profile}) | {mean:.2} ms | ≤ {TARGET_MS_PER_CHECK} ms |");
    println!("| time per check, median | {median:.2} ms | |");
    println!("| time per check, p99 | {p99:.2} ms | |");
    println!();
    println!("| variation of the second registration | registrations | recall |");
    println!("|---|---|---|");
    for (tag, n, hit) in &per_variation {
        println!("| {tag} | {n} | {:.3} |", ratio(*hit, *n));
    }
    println!();
    println!("| listed from score | within of the best | precision | recall |");
    println!("|---|---|---|---|");
    for (t, m, p, r) in &tradeoff {
        let default = (*t - dedup::MATCH_THRESHOLD).abs() < f32::EPSILON
            && (*m - dedup::LIST_MARGIN).abs() < f32::EPSILON;
        let mark = if default { " (default)" } else { "" };
        let margin = if m.is_finite() {
            format!("{m:.2}")
        } else {
            "any".into()
        };
        println!("| {t:.1}{mark} | {margin} | {p:.3} | {r:.3} |");
    }
    println!();
    println!("| wrongly listed, by query | pairs |");
    println!("|---|---|");
    for (kind, n) in &wrong_by_kind {
        println!("| {kind} | {n} |");
    }
    if !missed.is_empty() {
        println!("\nMissed (second registration vs its original):");
        missed.iter().for_each(|m| println!("{m}"));
    }
    if !wrong.is_empty() {
        println!("\nWrongly listed (query vs the case listed):");
        wrong.iter().for_each(|m| println!("{m}"));
    }
    Ok(())
}
