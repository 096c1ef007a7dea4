//! Generates `AsyncCaseStore.kt`: every method of the generated `CaseStore` (uniffi's
//! `CaseStoreInterface` in `casesync_ffi.kt`) as a `suspend` function that runs the
//! blocking call on a coroutine dispatcher (`Dispatchers.IO` by default), so an app never
//! touches the disk or the network from the main thread.
//!
//! `scripts/gen-bindings` runs it after uniffi-bindgen; `scripts/check-bindings` compares
//! its output like uniffi's. Methods with a handwritten coroutine form
//! (`AsyncCaseStore.kt`'s siblings: `sync` cancellable and with a progress `Flow`,
//! `observe` as a `Flow`) are left out.
//!
//! Usage: `kotlin-suspend DIR` (DIR holds `org/casesync/casesync_ffi.kt`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Methods whose coroutine form is handwritten (mobile-bindings/kotlin/src/main/kotlin/
/// org/casesync/CaseStoreAsync.kt).
const HANDWRITTEN: &[&str] = &["sync", "observe"];

/// One method of the interface.
struct Method {
    doc: Vec<String>,
    name: String,
    /// `(name, type)` in order.
    params: Vec<(String, String)>,
    /// `None`: returns Unit.
    ret: Option<String>,
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: kotlin-suspend DIR");
        return ExitCode::from(2);
    };
    let dir = Path::new(&dir).join("org/casesync");
    let source = match std::fs::read_to_string(dir.join("casesync_ffi.kt")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kotlin-suspend: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    match generate(&source) {
        Ok(out) => match std::fs::write(dir.join("AsyncCaseStore.kt"), out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kotlin-suspend: cannot write: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("kotlin-suspend: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The lines of the block opened by the line equal to `opening` (trimmed), up to its
/// closing brace at the same indentation.
fn block<'a>(lines: &[&'a str], opening: &str) -> Result<Vec<&'a str>, String> {
    let start = lines
        .iter()
        .position(|l| l.trim() == opening)
        .ok_or_else(|| format!("`{opening}` not found"))?;
    let indent = lines[start].len() - lines[start].trim_start().len();
    let close = format!("{}}}", " ".repeat(indent));
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.trim_end() == close)
        .ok_or_else(|| format!("`{opening}` is not closed"))?;
    Ok(lines[start + 1..start + 1 + end].to_vec())
}

/// Splits `a: A, b: Map<K, V>` at the commas outside `<>` and `()`.
fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut from) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    if !s[from..].trim().is_empty() {
        out.push(s[from..].trim());
    }
    out
}

/// The methods declared in `body` (one `fun` per line, as uniffi writes them), with the
/// doc comment above each.
fn methods(body: &[&str]) -> Result<Vec<Method>, String> {
    let mut out = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    let mut in_doc = false;
    for line in body {
        let t = line.trim();
        if t.starts_with("/**") {
            in_doc = true;
            doc.clear();
        }
        if in_doc {
            // Re-indented by the writer: " * text" under "/**".
            doc.push(if t.starts_with("/**") {
                t.to_owned()
            } else {
                format!(" {t}")
            });
            if t.ends_with("*/") {
                in_doc = false;
            }
            continue;
        }
        let Some(at) = t.find("fun `") else {
            if !t.is_empty() && !t.starts_with('@') {
                doc.clear();
            }
            continue;
        };
        let rest = &t[at + 5..];
        let (name, rest) = rest
            .split_once('`')
            .ok_or_else(|| format!("cannot read the name in: {t}"))?;
        let open = rest
            .find('(')
            .ok_or_else(|| format!("no parameters in: {t}"))?;
        let close = rest
            .rfind(')')
            .ok_or_else(|| format!("no parameters in: {t}"))?;
        let mut params = Vec::new();
        for p in split_params(&rest[open + 1..close]) {
            let (n, ty) = p
                .split_once(':')
                .ok_or_else(|| format!("cannot read parameter `{p}` in: {t}"))?;
            params.push((n.trim().trim_matches('`').to_owned(), ty.trim().to_owned()));
        }
        let tail = rest[close + 1..].trim();
        let ret = tail
            .strip_prefix(':')
            .map(|r| r.trim().trim_end_matches('{').trim().to_owned())
            .filter(|r| !r.is_empty());
        out.push(Method {
            doc: std::mem::take(&mut doc),
            name: name.to_owned(),
            params,
            ret,
        });
    }
    Ok(out)
}

fn signature(m: &Method) -> (String, String) {
    let decl = m
        .params
        .iter()
        .map(|(n, t)| format!("`{n}`: {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    let args = m
        .params
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    (decl, args)
}

fn generate(source: &str) -> Result<String, String> {
    let lines: Vec<&str> = source.lines().collect();
    let interface = methods(&block(&lines, "public interface CaseStoreInterface {")?)?;
    if interface.is_empty() {
        return Err("CaseStoreInterface has no methods".into());
    }
    let class_at = lines
        .iter()
        .position(|l| {
            l.starts_with("open class CaseStore:") || l.starts_with("open class CaseStore :")
        })
        .ok_or("`open class CaseStore` not found")?;
    let companion = methods(&block(&lines[class_at..], "companion object {")?)?;
    let open = companion
        .iter()
        .find(|m| m.name == "open")
        .ok_or("CaseStore.open not found")?;
    let imports: Vec<&str> = lines
        .iter()
        .filter(|l| {
            l.starts_with("import org.casesync.core.")
                && !l.contains(".FfiConverter")
                && !l.contains(" as ")
        })
        .copied()
        .collect();

    let mut o = String::new();
    o.push_str(
        "// Generated by scripts/gen-bindings (uniffi-bindgen/src/bin/kotlin-suspend.rs) from\n\
         // casesync_ffi.kt. Do not edit: change the Rust API and regenerate.\n\
         @file:Suppress(\"RemoveRedundantBackticks\")\n\n\
         package org.casesync\n\n\
         import kotlinx.coroutines.CoroutineDispatcher\n\
         import kotlinx.coroutines.Dispatchers\n\
         import kotlinx.coroutines.withContext\n",
    );
    for i in &imports {
        o.push_str(i);
        o.push('\n');
    }
    o.push_str(
        "\n/**\n \
         * A [CaseStore] for coroutines: every call is a `suspend` function that runs the\n \
         * blocking native call on [io] (`Dispatchers.IO` unless given), so none blocks the\n \
         * calling thread. `sync` (cancellable, with progress) and `changes()` (a `Flow` of\n \
         * changed case ids) are in CaseStoreAsync.kt. [close] closes the store.\n \
         */\n\
         class AsyncCaseStore(val store: CaseStore, val io: CoroutineDispatcher = Dispatchers.IO) : AutoCloseable {\n\
         \x20   companion object {\n",
    );
    let (decl, args) = signature(open);
    for d in &open.doc {
        let _ = writeln!(o, "        {d}");
    }
    let _ = writeln!(
        o,
        "        suspend fun `open`({decl}, io: CoroutineDispatcher = Dispatchers.IO): AsyncCaseStore =\n            withContext(io) {{ AsyncCaseStore(CaseStore.`open`({args}), io) }}\n    }}"
    );
    for m in interface
        .iter()
        .filter(|m| !HANDWRITTEN.contains(&m.name.as_str()))
    {
        let (decl, args) = signature(m);
        o.push('\n');
        for d in &m.doc {
            let _ = writeln!(o, "    {d}");
        }
        let ret = m.ret.as_deref().unwrap_or("Unit");
        let _ = writeln!(
            o,
            "    suspend fun `{name}`({decl}): {ret} =\n        withContext(io) {{ store.`{name}`({args}) }}",
            name = m.name
        );
    }
    o.push_str("\n    /** Closes the native store (not on [io]: it only frees memory). */\n    override fun close() = store.close()\n}\n");
    Ok(o)
}
