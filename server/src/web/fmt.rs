//! Dates, times and numbers as the reader reads them, with ICU4X (compiled CLDR data):
//! the deployment's time zone ([`Display::time_zone`]), the language's calendar (Solar
//! Hijri for Farsi, Buddhist for Thai) instead of or beside Gregorian
//! ([`CalendarMode`]), and the language's digits (Bengali, Persian).
//!
//! Only what is shown changes: stored dates stay ISO dates, times UTC milliseconds, and
//! CSV exports keep ISO text with Latin digits.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use icu_calendar::{AnyCalendarKind, Date};
use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use icu_datetime::fieldsets::{YM, YMD, YMDT};
use icu_datetime::input::{DateTime, Time};
use icu_datetime::DateTimeFormatter;
use icu_decimal::input::Decimal;
use icu_decimal::DecimalFormatter;
use icu_locale_core::Locale;

pub use crate::config::{CalendarMode, Display};

use super::i18n::Lang;

/// Formats for one request: its language and the deployment's display settings.
pub struct Fmt {
    /// Dates in the calendar shown first.
    date: Option<DateTimeFormatter<YMD>>,
    /// Dates in Gregorian, when shown beside a local calendar.
    beside: Option<DateTimeFormatter<YMD>>,
    /// Date and time (shown first calendar).
    datetime: Option<DateTimeFormatter<YMDT>>,
    /// Months (`YYYY-MM` buckets): in the language's calendar when its months are the
    /// Gregorian months (Buddhist), else in Gregorian (a Solar Hijri month straddles two).
    month: Option<DateTimeFormatter<YM>>,
    /// Numbers in the language's digits.
    num: Option<DecimalFormatter>,
    /// The language's sort order.
    collator: Option<CollatorBorrowed<'static>>,
    zone: chrono_tz::Tz,
}

fn locale(code: &str, calendar: Option<&str>) -> Locale {
    let tag = match calendar {
        Some(ca) => format!("{code}-u-ca-{ca}"),
        None => code.to_owned(),
    };
    tag.parse()
        .or_else(|_| code.parse())
        .unwrap_or(Locale::UNKNOWN)
}

impl Fmt {
    /// The formats of `lang` under the deployment's `display` settings.
    pub fn new(lang: Lang, display: &Display) -> Self {
        let code = lang.code();
        let native = locale(code, None);
        let native_kind = DateTimeFormatter::<YMD>::try_new((&native).into(), YMD::medium())
            .map(|f| f.calendar().kind())
            .unwrap_or(AnyCalendarKind::Gregorian);
        let local = native_kind != AnyCalendarKind::Gregorian;
        let gregorian = locale(code, Some("gregory"));
        let (first, beside) = match display.calendar {
            CalendarMode::Gregorian => (&gregorian, None),
            CalendarMode::Local => (&native, None),
            CalendarMode::Both if local => (&native, Some(&gregorian)),
            CalendarMode::Both => (&native, None),
        };
        let month_locale = match native_kind {
            AnyCalendarKind::Buddhist if display.calendar != CalendarMode::Gregorian => &native,
            _ => &gregorian,
        };
        let date_fmt = |l: &Locale| DateTimeFormatter::<YMD>::try_new(l.into(), YMD::medium()).ok();
        Fmt {
            date: date_fmt(first),
            beside: beside.and_then(date_fmt),
            datetime: DateTimeFormatter::try_new(first.into(), YMD::medium().with_time_hm()).ok(),
            month: DateTimeFormatter::try_new(month_locale.into(), YM::medium()).ok(),
            num: DecimalFormatter::try_new((&native).into(), Default::default()).ok(),
            collator: Collator::try_new((&native).into(), CollatorOptions::default()).ok(),
            zone: display.time_zone,
        }
    }

    fn iso(d: NaiveDate) -> Option<Date<icu_calendar::Iso>> {
        let month = u8::try_from(d.month()).ok()?;
        let day = u8::try_from(d.day()).ok()?;
        Date::try_new_iso(d.year(), month, day).ok()
    }

    /// A date: `۱۱ آذر ۱۴۰۴ (۲ دسامبر ۲۰۲۵)` in Farsi with both calendars, `2 Dec 2025`
    /// in English; ISO text when ICU4X cannot format it.
    pub fn date(&self, d: NaiveDate) -> String {
        let (Some(f), Some(iso)) = (&self.date, Self::iso(d)) else {
            return d.to_string();
        };
        let first = f.format(&iso).to_string();
        match &self.beside {
            Some(b) => format!("{first} ({})", b.format(&iso)),
            None => first,
        }
    }

    /// A month bucket `YYYY-MM` as a label (`Dec 2025`, `ธ.ค. 2568`, `دسامبر ۲۰۲۵`);
    /// the text itself when it is not such a month.
    pub fn month(&self, ym: &str) -> String {
        let parsed = ym.split_once('-').and_then(|(y, m)| {
            let date = Date::try_new_iso(y.parse().ok()?, m.parse().ok()?, 1).ok()?;
            Some(self.month.as_ref()?.format(&date).to_string())
        });
        parsed.unwrap_or_else(|| ym.to_owned())
    }

    /// An optional date, or `—`.
    pub fn date_opt(&self, d: Option<NaiveDate>) -> String {
        d.map_or_else(|| "—".to_owned(), |d| self.date(d))
    }

    /// A time (UTC milliseconds) in the deployment's time zone: date and hour:minute.
    pub fn ms(&self, ms: i64) -> String {
        let Some(utc) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        let local = self.zone.from_utc_datetime(&utc.naive_utc()).naive_local();
        let formatted = (|| {
            let f = self.datetime.as_ref()?;
            let date = Self::iso(local.date())?;
            let time = Time::try_new(
                u8::try_from(local.hour()).ok()?,
                u8::try_from(local.minute()).ok()?,
                0,
                0,
            )
            .ok()?;
            Some(f.format(&DateTime { date, time }).to_string())
        })();
        formatted.unwrap_or_else(|| local.format("%Y-%m-%d %H:%M").to_string())
    }

    /// Compares two texts in the language's order (Unicode order when ICU4X has none):
    /// `Đ` after `D` and before `E` in Vietnamese, Bengali in its alphabet's order.
    pub fn compare(&self, a: &str, b: &str) -> std::cmp::Ordering {
        match &self.collator {
            Some(c) => c.compare(a, b),
            None => a.cmp(b),
        }
    }

    /// Today's date in the deployment's time zone.
    pub fn today(&self, now_ms: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(now_ms).map_or_else(
            || NaiveDate::MIN,
            |t| self.zone.from_utc_datetime(&t.naive_utc()).date_naive(),
        )
    }

    /// The time zone's name (`Asia/Dhaka`).
    pub fn zone_name(&self) -> &'static str {
        self.zone.name()
    }

    /// A number in the language's digits and grouping (`১২`, `۱٬۲۳۴`).
    pub fn num(&self, n: impl Number) -> String {
        let n = n.as_i64();
        match &self.num {
            Some(f) => f.format(&Decimal::from(n)).to_string(),
            None => n.to_string(),
        }
    }

    /// A number with a fraction (a median), at most one decimal, in the language's digits.
    pub fn dec(&self, x: f64) -> String {
        let text = format!("{:.1}", x);
        let text = text.strip_suffix(".0").unwrap_or(&text);
        match (&self.num, Decimal::try_from_str(text)) {
            (Some(f), Ok(d)) => f.format(&d).to_string(),
            _ => text.to_owned(),
        }
    }
}

/// An integer shown by [`Fmt::num`] (counts are `usize`, `u32`; templates pass refs).
pub trait Number {
    /// The value (saturating).
    fn as_i64(&self) -> i64;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn as_i64(&self) -> i64 {
                i64::try_from(*self).unwrap_or(i64::MAX)
            }
        }
    )*};
}
number!(u8, u16, u32, u64, usize, i32, i64);

impl<N: Number> Number for &N {
    fn as_i64(&self) -> i64 {
        (*self).as_i64()
    }
}

/// The number formatting of one Fluent bundle's language (memoized by Fluent): Fluent's
/// numbers (`{ $count }`) are written in the language's digits. It keeps the locale
/// only and makes the ICU4X formatter per number (compiled data: no loading), as the
/// formatter itself is not `Sync`.
pub(crate) struct Digits(Locale);

impl Digits {
    /// `n` in the language's digits (integers exactly; a fraction as Rust prints it).
    pub(crate) fn format(&self, n: f64) -> Option<String> {
        let d = if n.fract() == 0.0 && n.abs() < 1e15 {
            Decimal::from(n as i64)
        } else {
            Decimal::try_from_str(&n.to_string()).ok()?
        };
        let f = DecimalFormatter::try_new((&self.0).into(), Default::default()).ok()?;
        Some(f.format(&d).to_string())
    }
}

impl intl_memoizer::Memoizable for Digits {
    type Args = ();
    type Error = ();

    fn construct(lang: unic_langid::LanguageIdentifier, _: ()) -> Result<Self, ()> {
        Ok(Digits(locale(&lang.to_string(), None)))
    }
}

#[cfg(test)]
mod tests;
