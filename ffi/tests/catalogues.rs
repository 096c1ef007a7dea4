//! The phone's message catalogues (mobile-bindings/.../casesync/messages/<lang>.ftl):
//! every error code has a message in each of the five, no catalogue holds a message no
//! code uses, each message uses only its code's parameters and only the Fluent subset
//! the Kotlin formatter reads, and the stage and role labels are the dashboard's words.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use casesync_core::case::{Role, Stage};
use casesync_core::messages::{Code, LABELLED_PARAMS};
use fluent_syntax::ast::{Entry, Expression, InlineExpression, PatternElement};

const LANGS: [&str; 5] = ["en", "bn", "fa", "th", "vi"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// id -> (text pieces, variables used); panics on anything outside the subset.
fn catalogue(lang: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let path = root().join(format!(
        "mobile-bindings/kotlin/src/main/resources/casesync/messages/{lang}.ftl"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let res = fluent_syntax::parser::parse(text.as_str())
        .unwrap_or_else(|(_, errs)| panic!("{lang}.ftl does not parse: {errs:?}"));
    let mut out = BTreeMap::new();
    for entry in res.body {
        match entry {
            Entry::Message(m) => {
                let id = m.id.name.to_string();
                assert!(m.attributes.is_empty(), "{lang}.ftl {id}: no attributes");
                let pattern = m
                    .value
                    .unwrap_or_else(|| panic!("{lang}.ftl {id}: no value"));
                let (mut shown, mut vars) = (String::new(), BTreeSet::new());
                for el in pattern.elements {
                    match el {
                        PatternElement::TextElement { value } => {
                            assert!(!value.contains('\n'), "{lang}.ftl {id}: one line only");
                            shown.push_str(value);
                        }
                        PatternElement::Placeable {
                            expression: Expression::Inline(InlineExpression::VariableReference { id: v }),
                        } => {
                            vars.insert(v.name.to_string());
                        }
                        other => panic!(
                            "{lang}.ftl {id}: only {{ $param }} placeables (CasesyncMessages reads no more): {other:?}"
                        ),
                    }
                }
                assert!(
                    out.insert(id.clone(), (shown, vars)).is_none(),
                    "{lang}.ftl: {id} twice"
                );
            }
            Entry::Comment(_) | Entry::GroupComment(_) | Entry::ResourceComment(_) => {}
            Entry::Term(t) => panic!("{lang}.ftl: term -{} (not read by the phone)", t.id.name),
            Entry::Junk { content } => panic!("{lang}.ftl: junk {content:?}"),
        }
    }
    out
}

/// Every id a catalogue must hold: one per code, plus the labels of labelled params.
fn expected_ids() -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = Code::ALL.iter().map(|c| c.message_id()).collect();
    for (_, prefix) in LABELLED_PARAMS {
        let values: Vec<&str> = match *prefix {
            "stage" => Stage::ALL.iter().map(|s| s.as_str()).collect(),
            "role" => Role::ALL.iter().map(|r| r.as_str()).collect(),
            other => panic!("no values known for labelled prefix {other}"),
        };
        ids.extend(values.into_iter().map(|v| format!("{prefix}-{v}")));
    }
    ids
}

#[test]
fn every_code_has_a_message_in_every_catalogue_and_no_catalogue_has_more() {
    let expected = expected_ids();
    for lang in LANGS {
        let cat = catalogue(lang);
        let have: BTreeSet<String> = cat.keys().cloned().collect();
        let missing: Vec<_> = expected.difference(&have).collect();
        let unused: Vec<_> = have.difference(&expected).collect();
        assert!(missing.is_empty(), "{lang}.ftl lacks {missing:?}");
        assert!(
            unused.is_empty(),
            "{lang}.ftl has messages no code uses: {unused:?}"
        );
        for code in Code::ALL {
            let (shown, vars) = &cat[&code.message_id()];
            assert!(!shown.trim().is_empty(), "{lang} {}: empty", code.as_str());
            for v in vars {
                assert!(
                    code.param_names().contains(&v.as_str()),
                    "{lang}.ftl {}: uses ${v}, the code has only {:?}",
                    code.message_id(),
                    code.param_names()
                );
            }
        }
    }
}

#[test]
fn translations_are_not_the_english_text() {
    let en = catalogue("en");
    for lang in ["bn", "fa", "th"] {
        for (id, (shown, _)) in catalogue(lang) {
            assert_ne!(shown, en[&id].0, "{lang}.ftl {id} is the English text");
            // A URL scheme is Latin in every language (the network.* messages name it).
            let words = shown.replace("https://", "").replace("http://", "");
            assert!(
                !words.chars().any(|c| c.is_ascii_lowercase()),
                "{lang}.ftl {id} reads as Latin script: {shown:?}"
            );
        }
    }
    for (id, (shown, _)) in catalogue("vi") {
        assert_ne!(shown, en[&id].0, "vi.ftl {id} is the English text");
    }
}

#[test]
fn stage_role_and_login_words_are_the_dashboards() {
    for lang in LANGS {
        let cat = catalogue(lang);
        let mut server = String::new();
        for f in ["terms.ftl", "main.ftl"] {
            let p = root().join(format!("server/locales/{lang}/{f}"));
            server.push_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}")));
            server.push('\n');
        }
        let server_value = |id: &str| {
            server
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{id} = ")).map(str::to_string))
                .unwrap_or_else(|| panic!("server/locales/{lang} has no {id}"))
        };
        for id in cat
            .keys()
            .filter(|k| k.starts_with("stage-") || k.starts_with("role-"))
        {
            assert_eq!(
                cat[id].0,
                server_value(id),
                "{lang}: {id} differs from the dashboard"
            );
        }
        assert_eq!(
            cat["auth-wrong_password"].0,
            server_value("login-failed"),
            "{lang}: the phone and the dashboard say a wrong password the same way"
        );
    }
}
