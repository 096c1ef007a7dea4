//! The locales: complete, well-formed, consistent with the core's values; negotiation.

use std::collections::BTreeMap;

use casesync_core::case::{
    ClosureReason, GoalStatus, IntakeSource, ReferralService, ReferralStatus, Role, SafetyRisk,
    Sex, Stage, VisitKind,
};

use super::*;

/// The languages a deployment ships (a test fails when one of them is dropped).
const SHIPPED: &[&str] = &["en", "bn", "fa", "th", "vi"];

/// Keys whose value may be the same as English in another language.
const SAME_AS_ENGLISH: &[&str] = &["app-name", "none", "lang-dir"];

fn lang(code: &str) -> Lang {
    Lang::all()
        .find(|l| l.code() == code)
        .unwrap_or_else(|| panic!("{code} is not shipped"))
}

#[test]
fn every_locale_has_every_key_with_the_same_variables() {
    let en: BTreeMap<_, _> = keys(lang("en")).iter().cloned().collect();
    assert!(en.len() > 200, "{}", en.len());
    let codes: Vec<_> = Lang::all().map(Lang::code).collect();
    for c in SHIPPED {
        assert!(codes.contains(c), "{c} missing from {codes:?}");
    }
    for l in Lang::all() {
        assert!(errors(l).is_empty(), "{}: {:?}", l.code(), errors(l));
        let have: BTreeMap<_, _> = keys(l).iter().cloned().collect();
        for (k, vars) in &en {
            let Some(v) = have.get(k) else {
                panic!("{} lacks {k}", l.code());
            };
            assert_eq!(v, vars, "{} {k}: other variables than English", l.code());
        }
        for k in have.keys() {
            assert!(en.contains_key(k), "{} has {k}, English does not", l.code());
        }
    }
}

#[test]
fn no_other_language_copies_english() {
    let en = Tr::new(lang("en"));
    for l in Lang::all().filter(|l| l.code() != REFERENCE) {
        let t = Tr::new(l);
        for (k, _) in keys(l) {
            if SAME_AS_ENGLISH.contains(&k.as_str()) {
                continue;
            }
            let (mine, theirs) = (t.count(k, 3usize), en.count(k, 3usize));
            assert_ne!(mine, theirs, "{} {k} is the English text", l.code());
        }
    }
}

#[test]
fn every_value_of_the_core_has_a_label_in_every_language() {
    let mut terms: Vec<String> = Vec::new();
    let mut add = |prefix: &str, values: Vec<&'static str>| {
        terms.extend(values.into_iter().map(|v| format!("{prefix}-{v}")));
    };
    add("stage", Stage::ALL.iter().map(|v| v.as_str()).collect());
    add("sex", Sex::ALL.iter().map(|v| v.as_str()).collect());
    add("visit", VisitKind::ALL.iter().map(|v| v.as_str()).collect());
    add("goal", GoalStatus::ALL.iter().map(|v| v.as_str()).collect());
    add(
        "service",
        ReferralService::ALL.iter().map(|v| v.as_str()).collect(),
    );
    add(
        "referral",
        ReferralStatus::ALL.iter().map(|v| v.as_str()).collect(),
    );
    add(
        "reason",
        ClosureReason::ALL.iter().map(|v| v.as_str()).collect(),
    );
    add(
        "source",
        IntakeSource::ALL.iter().map(|v| v.as_str()).collect(),
    );
    add("risk", SafetyRisk::ALL.iter().map(|v| v.as_str()).collect());
    add("role", Role::ALL.iter().map(|v| v.as_str()).collect());
    for l in Lang::all() {
        let own: Vec<&str> = keys(l).iter().map(|(k, _)| k.as_str()).collect();
        for t in &terms {
            assert!(own.contains(&t.as_str()), "{} lacks {t}", l.code());
        }
    }
}

/// The summaries the core writes, read from its source: every `change(ctx, "…")` and
/// `message(ctx, "…")` literal (a new one without a translation fails here).
fn core_summaries() -> Vec<String> {
    let sources = [
        include_str!("../../../../core/src/case/doc.rs"),
        include_str!("../../../../core/src/case/doc/client.rs"),
        include_str!("../../../../core/src/case/doc/plan.rs"),
        include_str!("../../../../core/src/case/doc/lifecycle.rs"),
        include_str!("../../../../core/src/case/import.rs"),
        include_str!("../../../../core/src/case/conflicts.rs"),
    ];
    let mut out = Vec::new();
    for src in sources {
        for marker in ["change(ctx, \"", "message(ctx, \"", "format!(\""] {
            for (i, _) in src.match_indices(marker) {
                let rest = &src[i + marker.len()..];
                let Some(end) = rest.find('"') else { continue };
                let lit = &rest[..end];
                // Only the summaries of `change(ctx, &format!(…))`.
                if marker == "format!(\""
                    && !src[..i].ends_with("change(ctx, &")
                    && !src[..i].trim_end().ends_with("=>")
                {
                    continue;
                }
                let lit = lit
                    .replace("{id}", "1f2e3d4c")
                    .replace("{path}", "client.name")
                    .replace("{from}", "intake")
                    .replace("{to}", "assessment")
                    .replace("{key}", "literacy")
                    .replace("{}", "moved");
                out.push(lit);
            }
        }
    }
    out
}

#[test]
fn every_timeline_summary_is_translated() {
    let summaries = core_summaries();
    assert!(summaries.len() >= 24, "{summaries:?}");
    for l in Lang::all() {
        let t = Tr::new(l);
        for s in &summaries {
            let shown = t.summary(s);
            assert_ne!(&shown, s, "{}: {s:?} shown as written", l.code());
            assert!(!shown.contains("summary-"), "{}: {shown}", l.code());
        }
    }
    let fa = Tr::new(lang("fa"));
    assert_eq!(
        fa.summary("stage intake -> assessment"),
        "پرونده را از \u{2068}پذیرش\u{2069} به \u{2068}ارزیابی\u{2069} برد"
    );
    assert_eq!(
        Tr::new(lang("bn")).summary("visit 1f2e3d4c updated"),
        "পরিদর্শন হালনাগাদ করেছেন"
    );
    // Unknown (a newer app's) summaries are shown as written; no lookup of odd keys.
    assert_eq!(fa.summary("photo attached"), "photo attached");
}

#[test]
fn english_keeps_the_csv_column_names() {
    let en = Tr::new(lang("en"));
    let bn = Tr::new(lang("bn"));
    use crate::web::export::{header_row, CASES_HEADER, HISTORY_HEADER, INDICATORS_HEADER};
    for cols in [
        &CASES_HEADER[..],
        &HISTORY_HEADER[..],
        &INDICATORS_HEADER[..],
    ] {
        assert_eq!(header_row(&en, cols), cols);
        assert!(header_row(&bn, cols).iter().all(|h| !h.is_ascii()));
    }
}

#[test]
fn languages_name_themselves_and_their_direction() {
    assert_eq!(lang("fa").dir(), "rtl");
    assert!(lang("fa").rtl());
    for c in ["en", "bn", "th", "vi"] {
        assert_eq!(lang(c).dir(), "ltr", "{c}");
    }
    let menu = Tr::new(lang("th")).menu();
    assert_eq!(menu[0], ("en", "English"));
    assert!(menu.contains(&("fa", "فارسی")));
    assert!(menu.contains(&("vi", "Tiếng Việt")));
    assert_eq!(Tr::new(lang("bn")).get("nav-cases"), "কেস");
    assert_eq!(Tr::new(lang("en")).count("cases-found", 1usize), "One case");
    assert_eq!(
        Tr::new(lang("en")).count("cases-found", 12usize),
        "12 cases"
    );
    assert_eq!(Tr::new(lang("th")).term("stage", "closed"), "ปิดแล้ว");
    // A client's language by its own name; a tag the interface does not speak as written.
    assert_eq!(Tr::new(lang("bn")).language("fa"), "فارسی");
    assert_eq!(Tr::new(lang("en")).language("bn-IN"), "বাংলা");
    assert_eq!(Tr::new(lang("fa")).language("km"), "km");
    assert_eq!(
        Tr::new(lang("vi")).get("login-failed"),
        "Sai tên đăng nhập hoặc mật khẩu."
    );
}

#[test]
fn accept_language_picks_the_best_served() {
    let code = |h: &str| Lang::from_accept_language(h).map(Lang::code);
    assert_eq!(code("bn-BD,bn;q=0.9,en;q=0.8"), Some("bn"));
    assert_eq!(code("fr, en;q=0.5, bn;q=0.7"), Some("bn"));
    assert_eq!(code("fa-IR,fa;q=0.9"), Some("fa"));
    assert_eq!(code("th-TH"), Some("th"));
    assert_eq!(code("vi-VN,vi;q=0.9,en-US;q=0.8"), Some("vi"));
    assert_eq!(code("de-CH, en-GB;q=0.4"), Some("en"));
    assert_eq!(code("fr, de"), None);
    assert_eq!(code("bn;q=0, en"), Some("en"));
    assert_eq!(code("*"), None);
    assert_eq!(code(""), None);
    // A hostile header: thousands of entries, only the first few are read.
    let long = format!("{}bn", "xx,".repeat(5000));
    assert_eq!(code(&long), None);
    assert_eq!(Lang::parse("BN").map(Lang::code), Some("bn"));
    assert_eq!(Lang::parse("fa_IR").map(Lang::code), Some("fa"));
    assert_eq!(Lang::parse("x\" onload="), None);
    assert_eq!(Lang::parse(&"a".repeat(100)), None);
}

#[test]
fn a_regional_locale_falls_back_to_its_language_then_english() {
    // Every shipped locale's chain ends in English; none has another language inside.
    for l in Lang::all() {
        let chain = &l.locale().chain;
        assert_eq!(chain[0], l.0);
        assert_eq!(*chain.last().expect("chain"), registry().reference);
        assert!(chain.len() <= 2, "{}: {chain:?}", l.code());
    }
}

/// The document's field names, read from the core's model (field names there are the
/// document keys): every `pub name:` of the structs a case document holds.
fn core_field_names() -> Vec<String> {
    let src = include_str!("../../../../core/src/case/model.rs");
    let documented = [
        "HouseholdMember",
        "Client",
        "Consent",
        "Intake",
        "Assessment",
        "Goal",
        "Plan",
        "Referral",
        "Visit",
        "Closure",
        "Evaluation",
        "Case",
    ];
    let mut out = Vec::new();
    let mut inside = false;
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest.split([' ', '{']).next().unwrap_or("");
            inside = documented.contains(&name);
        } else if line.starts_with('}') {
            inside = false;
        } else if inside {
            if let Some(field) = line.trim().strip_prefix("pub ") {
                if let Some((name, _)) = field.split_once(':') {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn every_field_of_a_case_has_a_timeline_label_in_every_language() {
    let names = core_field_names();
    assert!(names.len() >= 60, "{names:?}");
    for l in Lang::all() {
        let t = Tr::new(l);
        for n in &names {
            assert!(t.has(&format!("field-{n}")), "{} lacks field-{n}", l.code());
        }
    }
    let f: Vec<String> = [
        "visits.533132de495ba7aa.next_visit_date",
        "visits.533132de495ba7aa.notes",
        "stage",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let shown = |code: &str| {
        let t = Tr::new(lang(code));
        crate::web::case_page::compact_fields(&f, |n| t.field(n))
    };
    assert_eq!(shown("en"), "Visits: Next visit, Notes; Stage");
    assert_eq!(shown("bn"), "পরিদর্শন: পরের পরিদর্শন, নোট; ধাপ");
    assert_eq!(shown("fa"), "ملاقات‌ها: ملاقات بعدی, یادداشت; مرحله");
    // A key of assessment.extra (the programme's own) is shown as written.
    assert_eq!(Tr::new(lang("th")).field("literacy"), "literacy");
}
