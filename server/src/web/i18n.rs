//! The interface languages, as data: every folder `server/locales/<lang>/` of `.ftl`
//! files is a language (embedded at build time by `build.rs`; adding a language is
//! adding a folder). A locale names itself (`lang-name`) and its direction (`lang-dir`).
//!
//! The language of a request: `?lang=`, then the `lang` cookie, then `Accept-Language`
//! (negotiated with `fluent-langneg`), then English. A message missing from a locale
//! falls back along its chain (`bn-IN` → `bn` → `en`); English is the reference locale
//! and the tests refuse a key missing from any other one.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_langneg::{negotiate_languages, NegotiationStrategy};
use fluent_syntax::ast;
use unic_langid::LanguageIdentifier;

include!(concat!(env!("OUT_DIR"), "/locales.rs"));

/// The reference locale (every key is there; the last link of every fallback chain).
pub const REFERENCE: &str = "en";

/// At most this many `Accept-Language` entries are considered (the header is untrusted).
const MAX_ACCEPT_ENTRIES: usize = 16;

/// One locale: its bundle and what it says of itself.
struct Locale {
    code: &'static str,
    id: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
    /// Message ids of the locale's own files, with the variables each uses (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    keys: Vec<(String, BTreeSet<String>)>,
    /// Its name in itself (`lang-name`).
    name: String,
    /// Written right to left (`lang-dir = rtl`).
    rtl: bool,
    /// Indexes of the locales to try, this one first, the reference last.
    chain: Vec<usize>,
    /// Syntax or duplicate-key errors of its files (logged at start; tests refuse any).
    #[cfg_attr(not(test), allow(dead_code))]
    errors: Vec<String>,
}

struct Registry {
    locales: Vec<Locale>,
    reference: usize,
}

/// Messages shown in the reference language because a locale lacked them (a test
/// counter: a page that shows English in another language is a bug).
static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// The variables (`$name`) a pattern uses.
fn pattern_vars(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for e in &p.elements {
        if let ast::PatternElement::Placeable { expression } = e {
            expression_vars(expression, out);
        }
    }
}

fn expression_vars(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        ast::Expression::Inline(i) => inline_vars(i, out),
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for v in variants {
                pattern_vars(&v.value, out);
            }
        }
    }
}

fn inline_vars(i: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match i {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, out),
        _ => {}
    }
}

/// Message ids of a resource, each with the variables it uses.
fn message_ids(res: &FluentResource) -> Vec<(String, BTreeSet<String>)> {
    res.entries()
        .filter_map(|e| match e {
            ast::Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_vars(p, &mut vars);
                }
                Some((m.id.name.to_owned(), vars))
            }
            _ => None,
        })
        .collect()
}

/// Fluent's formatter hook: a number in the bundle language's digits.
fn fluent_number(
    v: &FluentValue<'_>,
    m: &intl_memoizer::concurrent::IntlLangMemoizer,
) -> Option<String> {
    use fluent_bundle::memoizer::MemoizerKind;
    match v {
        FluentValue::Number(n) => m
            .with_try_get_threadsafe::<super::fmt::Digits, _, _>((), |d| d.format(n.value))
            .ok()
            .flatten(),
        _ => None,
    }
}

fn load(code: &'static str, files: &[(&str, &'static str)]) -> Locale {
    let id: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
    // Placeables are numbers, dates, labels and user ids; user text is isolated by the
    // templates (`<bdi>`, `dir="auto"`), so no isolation marks inside messages.
    bundle.set_use_isolating(false);
    // Numbers in the language's digits (ICU4X), not Fluent's Latin ones.
    bundle.set_formatter(Some(fluent_number));
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for (file, source) in files {
        let res = match FluentResource::try_new((*source).to_owned()) {
            Ok(r) => r,
            Err((r, e)) => {
                errors.extend(e.iter().map(|e| format!("{code}/{file}: {e:?}")));
                r
            }
        };
        keys.extend(message_ids(&res));
        if let Err(e) = bundle.add_resource(res) {
            errors.extend(e.iter().map(|e| format!("{code}/{file}: {e:?}")));
        }
    }
    for e in &errors {
        tracing::error!(locale = code, error = %e, "locale file has errors");
    }
    let plain = |key: &str| {
        let pattern = bundle.get_message(key)?.value()?;
        let mut errs = Vec::new();
        Some(bundle.format_pattern(pattern, None, &mut errs).into_owned())
    };
    let name = plain("lang-name").unwrap_or_else(|| code.to_owned());
    let rtl = plain("lang-dir").is_some_and(|d| d.trim() == "rtl");
    Locale {
        code,
        id,
        bundle,
        keys,
        name,
        rtl,
        chain: Vec::new(),
        errors,
    }
}

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut locales: Vec<Locale> = LOCALE_SOURCES
            .iter()
            .map(|(code, files)| load(code, files))
            .collect();
        // The reference first (menu order: English, then the folders by name).
        locales.sort_by_key(|l| (l.code != REFERENCE, l.code));
        let reference = 0;
        let ids: Vec<LanguageIdentifier> = locales.iter().map(|l| l.id.clone()).collect();
        for i in 0..locales.len() {
            let want = [ids[i].clone()];
            let matched = negotiate_languages(
                &want,
                &ids,
                Some(&ids[reference]),
                NegotiationStrategy::Filtering,
            );
            let mut chain: Vec<usize> = matched
                .iter()
                .filter_map(|m| ids.iter().position(|x| x == *m))
                .collect();
            chain.retain(|&j| j == i || locales[j].id.language == ids[i].language);
            chain.retain(|&j| j != i);
            chain.insert(0, i);
            if !chain.contains(&reference) {
                chain.push(reference);
            }
            locales[i].chain = chain;
        }
        Registry { locales, reference }
    })
}

/// An interface language (an index into the embedded locales).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(usize);

impl Default for Lang {
    fn default() -> Self {
        Lang(registry().reference)
    }
}

impl Lang {
    /// Every interface language, in menu order (English first).
    pub fn all() -> impl Iterator<Item = Lang> {
        (0..registry().locales.len()).map(Lang)
    }

    fn locale(self) -> &'static Locale {
        &registry().locales[self.0]
    }

    /// The BCP 47 code (the folder's name: `en`, `bn`, `fa`).
    pub fn code(self) -> &'static str {
        self.locale().code
    }

    /// The language's name in itself (for the language menu).
    pub fn name(self) -> &'static str {
        &self.locale().name
    }

    /// `rtl` or `ltr` (for `<html dir>`).
    pub fn dir(self) -> &'static str {
        if self.locale().rtl {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// Written right to left.
    pub fn rtl(self) -> bool {
        self.locale().rtl
    }

    /// The best language for the given tags, in order of preference (`None` when none
    /// is served: no tag matches even by its primary language).
    pub fn negotiate<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Lang> {
        let wanted: Vec<LanguageIdentifier> = tags
            .into_iter()
            .take(MAX_ACCEPT_ENTRIES)
            .filter_map(|t| t.trim().replace('_', "-").parse().ok())
            .collect();
        let r = registry();
        let ids: Vec<LanguageIdentifier> = r.locales.iter().map(|l| l.id.clone()).collect();
        let got = negotiate_languages(&wanted, &ids, None, NegotiationStrategy::Lookup);
        let first = got.first()?;
        ids.iter().position(|x| x == *first).map(Lang)
    }

    /// Parses a language tag (`bn-BD` is Bengali, `fa_IR` Farsi).
    pub fn parse(tag: &str) -> Option<Lang> {
        if tag.is_empty() || tag.len() > 35 {
            return None;
        }
        Lang::negotiate([tag])
    }

    /// The best served language of an `Accept-Language` header (highest `q` first; ties
    /// keep the header's order; `q=0` refuses a language).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut tags: Vec<(f32, usize, &str)> = header
            .split(',')
            .take(MAX_ACCEPT_ENTRIES)
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0 && !tag.is_empty() && tag != "*").then_some((q, i, tag))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // Negotiate tag by tag, so that a preferred language served only by its primary
        // subtag (`bn-BD` → `bn`) wins over a later exact match.
        tags.iter().find_map(|t| Lang::negotiate([t.2]))
    }
}

fn format_in(
    b: &FluentBundle<FluentResource>,
    key: &str,
    args: Option<&FluentArgs<'_>>,
) -> Option<String> {
    let pattern = b.get_message(key)?.value()?;
    let mut errors = Vec::new();
    let out = b.format_pattern(pattern, args, &mut errors);
    Some(out.into_owned())
}

/// A translator for one language (what templates call `t.get("key")` on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    /// The language.
    pub lang: Lang,
}

impl Tr {
    /// A translator for `lang`.
    pub fn new(lang: Lang) -> Self {
        Tr { lang }
    }

    /// The language code (for `<html lang>`).
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// `rtl` or `ltr` (for `<html dir>`).
    pub fn dir(&self) -> &'static str {
        self.lang.dir()
    }

    /// The language menu: (code, name in itself) of every language.
    pub fn menu(&self) -> Vec<(&'static str, &'static str)> {
        Lang::all().map(|l| (l.code(), l.name())).collect()
    }

    fn lookup(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let r = registry();
        let here = self.lang.locale();
        for (n, &i) in here.chain.iter().enumerate() {
            if let Some(s) = format_in(&r.locales[i].bundle, key, args) {
                if i == r.reference && n > 0 {
                    FALLBACKS.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(locale = here.code, key, "message shown in English");
                }
                return s;
            }
        }
        tracing::warn!(key, "message missing from every locale");
        key.to_owned()
    }

    /// The message `key`.
    pub fn get(&self, key: &str) -> String {
        self.lookup(key, None)
    }

    /// Whether this language (or its chain before English) has the message `key`.
    pub fn has(&self, key: &str) -> bool {
        let r = registry();
        self.lang
            .locale()
            .chain
            .iter()
            .any(|&i| r.locales[i].bundle.has_message(key))
    }

    /// A text argument: isolated (FSI … PDI) on a right-to-left page, so that a Latin id
    /// or a date inside Farsi text keeps its own order.
    fn text_arg(&self, value: &str) -> FluentValue<'static> {
        if self.lang.rtl() {
            FluentValue::from(format!("\u{2068}{value}\u{2069}"))
        } else {
            FluentValue::from(value.to_owned())
        }
    }

    /// The message `key` with one argument `name` (text).
    pub fn arg(&self, key: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name, self.text_arg(value));
        self.lookup(key, Some(&args))
    }

    /// The message `key` with a `count` argument (plural rules apply).
    pub fn count(&self, key: &str, count: impl std::borrow::Borrow<usize>) -> String {
        let mut args = FluentArgs::new();
        args.set("count", FluentValue::from(*count.borrow()));
        self.lookup(key, Some(&args))
    }

    /// The message `key` with arguments given as pairs.
    pub fn args(&self, key: &str, pairs: &[(&str, String)]) -> String {
        let mut args = FluentArgs::new();
        for (k, v) in pairs {
            args.set(*k, self.text_arg(v));
        }
        self.lookup(key, Some(&args))
    }

    /// The label of a document field name as the timeline shows it (`field-next_visit_date`);
    /// a name with no label (a key of `assessment.extra`, a newer app's field) as written.
    pub fn field(&self, name: &str) -> String {
        let key = format!("field-{name}");
        if self.has(&key) {
            self.get(&key)
        } else {
            name.to_owned()
        }
    }

    /// A client's preferred language (a BCP 47 tag, `fa`, `bn-IN`) by its own name when
    /// it is one of the interface languages (`فارسی`, `বাংলা`); any other tag as written.
    pub fn language(&self, tag: &str) -> String {
        let primary = tag.split(['-', '_']).next().unwrap_or(tag);
        Lang::all()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
            .map_or_else(|| tag.to_owned(), |l| l.name().to_owned())
    }

    /// The localised name of a stable enum value: `prefix-value` (e.g. `stage-intake`).
    pub fn term(&self, prefix: &str, value: &str) -> String {
        self.get(&format!("{prefix}-{value}"))
    }

    /// A timeline summary as the core writes it ("visit recorded", "goal 1a2b updated",
    /// "stage intake -> assessment") in this language; a summary this server does not
    /// know (written by a newer app) is shown as written.
    pub fn summary(&self, summary: &str) -> String {
        if let Some((from, to)) = summary
            .strip_prefix("stage ")
            .and_then(|r| r.split_once(" -> "))
        {
            return self.args(
                "summary-stage",
                &[
                    ("from", self.term("stage", from)),
                    ("to", self.term("stage", to)),
                ],
            );
        }
        if let Some(path) = summary
            .strip_prefix("conflict at ")
            .and_then(|r| r.strip_suffix(" resolved"))
        {
            return self.arg("summary-conflict-resolved", "path", path);
        }
        if let Some(reason) = summary
            .strip_prefix("case closed (")
            .and_then(|r| r.strip_suffix(')'))
        {
            return self.arg(
                "summary-case-closed",
                "reason",
                &self.term("reason", reason),
            );
        }
        if summary.starts_with("assessment.extra.") && summary.ends_with(" set") {
            return self.get("summary-assessment-extra-set");
        }
        let words: Vec<&str> = summary.split(' ').collect();
        if let ["referral", _id, status @ ("accepted" | "declined" | "completed")] =
            words.as_slice()
        {
            return self.arg(
                "summary-referral-answered",
                "status",
                &self.term("referral", status),
            );
        }
        if let [what @ ("goal" | "referral" | "visit"), _id, "updated"] = words.as_slice() {
            return self.get(&format!("summary-{what}-updated"));
        }
        let key = format!("summary-{}", summary.replace(' ', "-"));
        if summary.len() <= 64 && self.has(&key) {
            self.get(&key)
        } else {
            summary.to_owned()
        }
    }
}

/// How many messages were shown in English because another locale lacked them.
#[cfg(test)]
pub fn fallbacks() -> usize {
    FALLBACKS.load(Ordering::Relaxed)
}

/// Every message key of a locale's files with the variables it uses (for tests: every
/// locale has every key, with the same variables).
#[cfg(test)]
pub(crate) fn keys(lang: Lang) -> &'static [(String, BTreeSet<String>)] {
    &lang.locale().keys
}

/// The syntax and duplicate-key errors of a locale's files (for tests).
#[cfg(test)]
pub(crate) fn errors(lang: Lang) -> &'static [String] {
    &lang.locale().errors
}

#[cfg(test)]
mod tests;
