//! The interface language: Fluent bundles compiled into the binary from
//! `server/locales/<lang>/main.ftl`, and the choice of language for a request
//! (`?lang=`, then the `lang` cookie, then `Accept-Language`, then English).
//!
//! English is the reference locale: a key missing from another locale falls back to it.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// An interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (reference).
    #[default]
    En,
    /// Bengali.
    Bn,
}

impl Lang {
    /// Every interface language, in menu order.
    pub const ALL: &'static [Lang] = &[Lang::En, Lang::Bn];

    /// The BCP 47 code (`en`, `bn`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Bn => "bn",
        }
    }

    /// Parses a language tag by its primary subtag (`bn-BD` is Bengali).
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "bn" => Some(Lang::Bn),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header (highest `q` first;
    /// ties keep the header's order).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut tags: Vec<(f32, usize, Lang)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        tags.first().map(|t| t.2)
    }
}

struct Locales {
    en: FluentBundle<FluentResource>,
    bn: FluentBundle<FluentResource>,
}

fn bundle(code: &str, source: &str) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Placeables are numbers, dates and user ids; user text never goes through Fluent
    // (the templates isolate it with `dir="auto"`), so no isolation marks are needed.
    b.set_use_isolating(false);
    let res = match FluentResource::try_new(source.to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(
                locale = code,
                errors = errors.len(),
                "locale has syntax errors"
            );
            r
        }
    };
    if let Err(errors) = b.add_resource(res) {
        tracing::error!(
            locale = code,
            errors = errors.len(),
            "locale has duplicate keys"
        );
    }
    b
}

fn locales() -> &'static Locales {
    static L: OnceLock<Locales> = OnceLock::new();
    L.get_or_init(|| Locales {
        en: bundle("en", include_str!("../../locales/en/main.ftl")),
        bn: bundle("bn", include_str!("../../locales/bn/main.ftl")),
    })
}

fn format(
    b: &FluentBundle<FluentResource>,
    key: &str,
    args: Option<&FluentArgs<'_>>,
) -> Option<String> {
    let msg = b.get_message(key)?;
    let pattern = msg.value()?;
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

    fn lookup(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let l = locales();
        let primary = match self.lang {
            Lang::En => &l.en,
            Lang::Bn => &l.bn,
        };
        format(primary, key, args)
            .or_else(|| format(&l.en, key, args))
            .unwrap_or_else(|| key.to_owned())
    }

    /// The message `key`.
    pub fn get(&self, key: &str) -> String {
        self.lookup(key, None)
    }

    /// The message `key` with one argument `name` (text).
    pub fn arg(&self, key: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name, FluentValue::from(value.to_owned()));
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
            args.set(*k, FluentValue::from(v.clone()));
        }
        self.lookup(key, Some(&args))
    }

    /// The localised name of a stable enum value: `prefix-value` (e.g. `stage-intake`).
    pub fn term(&self, prefix: &str, value: &str) -> String {
        self.get(&format!("{prefix}-{value}"))
    }
}

/// Every message key of a locale's source (for tests: every locale has every key).
#[cfg(test)]
pub(crate) fn keys(lang: Lang) -> Vec<String> {
    let source = match lang {
        Lang::En => include_str!("../../locales/en/main.ftl"),
        Lang::Bn => include_str!("../../locales/bn/main.ftl"),
    };
    source
        .lines()
        .filter(|l| !l.starts_with(['#', ' ']) && l.contains(" = "))
        .filter_map(|l| l.split(" = ").next().map(|k| k.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_has_every_key_and_parses() {
        let en = keys(Lang::En);
        assert!(en.len() > 100, "{}", en.len());
        for lang in Lang::ALL {
            let have = keys(*lang);
            for k in &en {
                assert!(have.contains(k), "{} lacks {k}", lang.code());
                let t = Tr::new(*lang).get(k);
                assert_ne!(&t, k, "{} {k} does not format", lang.code());
            }
        }
        assert_eq!(Tr::new(Lang::Bn).get("nav-cases"), "কেস");
        assert_eq!(Tr::new(Lang::En).count("cases-found", 1), "One case");
        assert_eq!(Tr::new(Lang::En).count("cases-found", 12), "12 cases");
        assert_eq!(Tr::new(Lang::Bn).term("stage", "closed"), "বন্ধ");
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("bn-BD,bn;q=0.9,en;q=0.8"),
            Some(Lang::Bn)
        );
        assert_eq!(
            Lang::from_accept_language("fr, en;q=0.5, bn;q=0.7"),
            Some(Lang::Bn)
        );
        assert_eq!(Lang::from_accept_language("fr, de"), None);
        assert_eq!(Lang::from_accept_language("bn;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::parse("BN"), Some(Lang::Bn));
    }
}
