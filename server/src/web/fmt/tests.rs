//! ICU4X formatting: calendars, digits, the deployment's time zone.

use chrono::NaiveDate;

use super::*;
use crate::web::i18n::Tr;

fn lang(code: &str) -> Lang {
    Lang::parse(code).expect(code)
}

fn display(zone: &str, calendar: CalendarMode) -> Display {
    Display {
        time_zone: Display::parse_zone(zone).expect(zone),
        calendar,
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// 2025-12-02T20:30:00Z in milliseconds.
const EVENING_UTC: i64 = 1_764_707_400_000;

#[test]
fn dates_in_the_persian_and_buddhist_calendars() {
    let d = day(2025, 12, 2);
    let fa = |mode| Fmt::new(lang("fa"), &display("UTC", mode)).date(d);
    assert_eq!(fa(CalendarMode::Local), "۱۱ آذر ۱۴۰۴");
    assert_eq!(fa(CalendarMode::Both), "۱۱ آذر ۱۴۰۴ (۲ دسامبر ۲۰۲۵)");
    assert_eq!(fa(CalendarMode::Gregorian), "۲ دسامبر ۲۰۲۵");
    // Nowruz: the first day of the Solar Hijri year.
    let nowruz = Fmt::new(lang("fa"), &display("UTC", CalendarMode::Local)).date(day(2025, 3, 21));
    assert_eq!(nowruz, "۱ فروردین ۱۴۰۴");
    let th = |mode| Fmt::new(lang("th"), &display("UTC", mode)).date(d);
    assert_eq!(th(CalendarMode::Local), "2 ธ.ค. 2568");
    assert_eq!(th(CalendarMode::Both), "2 ธ.ค. 2568 (2 ธ.ค. 2025)");
    assert_eq!(th(CalendarMode::Gregorian), "2 ธ.ค. 2025");
    // Languages with a Gregorian calendar show it once, whatever the mode.
    let en = Fmt::new(lang("en"), &display("UTC", CalendarMode::Both));
    assert_eq!(en.date(d), "Dec 2, 2025");
    assert_eq!(en.date_opt(None), "—");
    let vi = Fmt::new(lang("vi"), &display("UTC", CalendarMode::Both));
    assert_eq!(vi.date(d), "2 thg 12, 2025");
    // Month buckets: Buddhist years for Thai (same months), Gregorian months for Farsi.
    let month =
        |code: &str| Fmt::new(lang(code), &display("UTC", CalendarMode::Both)).month("2025-12");
    assert_eq!(month("en"), "Dec 2025");
    assert_eq!(month("th"), "ธ.ค. 2568");
    assert_eq!(month("fa"), "دسامبر ۲۰۲۵");
    assert_eq!(month("bn"), "ডিসে ২০২৫");
    assert_eq!(en.month("nonsense"), "nonsense");
}

#[test]
fn bengali_and_persian_digits() {
    let bn = Fmt::new(lang("bn"), &Display::default());
    assert_eq!(bn.num(1234u32), "১,২৩৪");
    assert_eq!(bn.num(0usize), "০");
    assert_eq!(bn.dec(4.5), "৪.৫");
    assert_eq!(bn.date(day(2025, 12, 2)), "২ ডিসে, ২০২৫");
    let fa = Fmt::new(lang("fa"), &Display::default());
    assert_eq!(fa.num(1234u32), "۱٬۲۳۴");
    assert_eq!(fa.dec(3.0), "۳");
    // Thai and Vietnamese use Latin digits (their custom), with their own grouping.
    assert_eq!(
        Fmt::new(lang("th"), &Display::default()).num(1234u32),
        "1,234"
    );
    assert_eq!(
        Fmt::new(lang("vi"), &Display::default()).num(1234u32),
        "1.234"
    );
    // Fluent's numbers follow: the count in a Bengali and a Farsi message.
    assert_eq!(
        Tr::new(lang("bn")).count("cases-found", 12usize),
        "১২টি কেস"
    );
    assert_eq!(
        Tr::new(lang("fa")).count("cases-found", 12usize),
        "۱۲ پرونده"
    );
    assert_eq!(
        Tr::new(lang("en")).count("cases-found", 12usize),
        "12 cases"
    );
}

#[test]
fn a_utc_time_is_shown_in_the_deployment_zone() {
    // 20:30 UTC is 02:30 the next day in Dhaka (UTC+6), 00:00 in Tehran (UTC+3:30).
    let en = Fmt::new(lang("en"), &display("Asia/Dhaka", CalendarMode::Both));
    assert_eq!(en.ms(EVENING_UTC), "Dec 3, 2025, 2:30\u{202f}AM");
    assert_eq!(en.zone_name(), "Asia/Dhaka");
    assert_eq!(en.today(EVENING_UTC), day(2025, 12, 3));
    let bn = Fmt::new(lang("bn"), &display("Asia/Dhaka", CalendarMode::Both));
    assert_eq!(bn.ms(EVENING_UTC), "৩ ডিসে, ২০২৫, ২:৩০ AM");
    let fa = Fmt::new(lang("fa"), &display("Asia/Tehran", CalendarMode::Local));
    assert_eq!(fa.ms(EVENING_UTC), "۱۲ آذر ۱۴۰۴، ۰:۰۰");
    let utc = Fmt::new(lang("th"), &display("UTC", CalendarMode::Gregorian));
    assert_eq!(utc.ms(EVENING_UTC), "2 ธ.ค. 2025 20:30");
    // A bad zone name is a clear error; an out-of-range time shows nothing.
    assert!(Display::parse_zone("Asia/Nowhere")
        .expect_err("an unknown zone")
        .contains("IANA"));
    assert_eq!(en.ms(i64::MAX), "");
}

#[test]
fn collation_follows_the_language() {
    fn sorted(code: &str, words: &[&'static str]) -> Vec<&'static str> {
        let f = Fmt::new(lang(code), &Display::default());
        let mut v: Vec<&'static str> = words.to_vec();
        v.sort_by(|a, b| f.compare(a, b));
        v
    }
    // Vietnamese: Đ after D, before E (in code point order it comes after every ASCII letter).
    assert_eq!(
        sorted("vi", &["Em", "Đào", "Dương", "Anh"]),
        ["Anh", "Dương", "Đào", "Em"]
    );
    // Persian: ب پ ت ج چ (پ and چ are far from ب and ج in code point order).
    assert_eq!(
        sorted("fa", &["چمن", "تیر", "پری", "بهار", "جواد"]),
        ["بهار", "پری", "تیر", "جواد", "چمن"]
    );
    // English ignores case and accents at first: "émile" between "Emil" and "Eve".
    assert_eq!(
        sorted("en", &["Eve", "émile", "Emil"]),
        ["Emil", "émile", "Eve"]
    );
}

#[test]
fn the_indicators_today_is_the_deployment_day_not_the_utc_day() {
    use casesync_core::case::{
        device_actor, CaseDoc, EditCtx, NewCase, Role, VisitInput, VisitKind,
    };
    // 20:30 UTC on 2 December is 02:30 on 3 December in Dhaka: a visit due on the 2nd is
    // overdue there, not yet in UTC.
    let ctx = EditCtx::new("chw-a", Role::Chw, EVENING_UTC - 86_400_000);
    let new = NewCase {
        id: "c-dhaka".into(),
        district: "D1".into(),
        village: "কুয়াকাটা".into(),
        assigned_to: "chw-a".into(),
        sensitive: false,
        client_name: "রহিমা খাতুন".into(),
    };
    let mut doc = CaseDoc::create(&ctx, device_actor("d"), &new).expect("create");
    let visit = VisitInput {
        date: day(2025, 11, 25),
        kind: VisitKind::Home,
        notes: "ভালো আছেন".into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: Some(day(2025, 12, 2)),
    };
    doc.add_visit(&ctx, &visit).expect("visit");
    let case = doc.read().expect("read");
    let overdue = |zone: &str| {
        let today = Fmt::new(lang("bn"), &display(zone, CalendarMode::Both)).today(EVENING_UTC);
        crate::web::stats::overview(&[&case], 0, &[], today)
            .indicators
            .overdue_follow_ups
    };
    assert_eq!(
        overdue("Asia/Dhaka"),
        1,
        "the 3rd in Dhaka: the visit of the 2nd is overdue"
    );
    assert_eq!(overdue("UTC"), 0, "still the 2nd in UTC");
}
