//! Where the bytes of an initial sync go, measured in-process (`sync-bench --breakdown`).
//!
//! The caseload is imported as the server imports it (one change per case, each by a
//! fresh server actor), cut into pages by the server's byte budget, and encoded several
//! ways: the stored (deflated) snapshots, the snapshots with their columns inflated
//! (`case::inflate_document`, what the pull sends since protocol 2), at several zstd
//! levels, with and without the summaries. The content floor is `zstd -19` of the same
//! cases as JSON lines.

use std::time::Instant;

use anyhow::Result;
use casesync_core::case::{device_actor, inflate_document, CaseDoc, CaseSummary, EditCtx, Role};
use casesync_core::protocol::{DocBody, DocUpdate, SyncResponse, PROTOCOL_VERSION};

use crate::caseload::{to_case, BenchCase};

/// The raw bytes of a page the server first builds for the budget a device asks for
/// (`sync::DEFAULT_PAGE_BYTES` on the wire, `ASSUMED_COMPRESSION` times as many raw).
const PAGE_BYTES: usize =
    casesync_core::sync::DEFAULT_PAGE_BYTES as usize * casesync_server::sync::ASSUMED_COMPRESSION;

/// One imported case: its stored bytes and summary.
pub struct Imported {
    /// Case id.
    pub id: String,
    /// `save()` as the server stores it.
    pub saved: Vec<u8>,
    /// Its listing summary.
    pub summary: CaseSummary,
}

/// Imports `cases` as the server's import endpoint does (a fresh server actor each).
pub fn import(cases: &[BenchCase], district: &str) -> Result<Vec<Imported>> {
    let ctx = EditCtx::new("bench-coord", Role::Coordinator, 1_760_000_000_000);
    cases
        .iter()
        .map(|b| {
            let case = to_case(b, district);
            let mut doc = CaseDoc::import(&ctx, device_actor("server:bench-coord"), &case)?;
            Ok(Imported {
                id: case.id.clone(),
                saved: doc.save(),
                summary: doc.summary()?,
            })
        })
        .collect()
}

/// `zstd -19` of the cases as JSON lines: the content floor.
pub fn content_floor(cases: &[BenchCase]) -> Result<(usize, usize)> {
    let mut json = Vec::new();
    for c in cases {
        serde_json::to_writer(&mut json, c)?;
        json.push(b'\n');
    }
    Ok((json.len(), zstd::bulk::compress(&json, 19)?.len()))
}

/// Pages of `docs` as the pull cuts them (stored size + summary, under the budget).
fn pages(docs: &[Imported]) -> Vec<&[Imported]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, d) in docs.iter().enumerate() {
        let cost = d.saved.len() + d.summary.name.len() + d.summary.village.len() + 64;
        if i > start && bytes + cost > PAGE_BYTES {
            out.push(&docs[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += cost;
    }
    if start < docs.len() {
        out.push(&docs[start..]);
    }
    out
}

fn page(docs: &[Imported], inflate: bool) -> Result<SyncResponse> {
    let docs = docs
        .iter()
        .map(|d| {
            let doc = if inflate {
                inflate_document(&d.saved)?
            } else {
                d.saved.clone()
            };
            Ok(DocUpdate {
                doc_id: d.id.clone(),
                body: DocBody::Snapshot {
                    doc,
                    summary: d.summary.clone(),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![0; 40],
        docs,
        removed: vec![],
        acked: vec![],
        refused: vec![],
        more: true,
        remaining_estimate: 0,
        wipe: false,
    })
}

/// One line of the breakdown.
pub struct Row {
    /// What was measured.
    pub what: String,
    /// Bytes over all pages.
    pub bytes: usize,
    /// Milliseconds to compress all pages (0 when not compressed).
    pub ms: f64,
}

/// The breakdown of an initial sync of `cases`.
pub fn breakdown(cases: &[BenchCase], levels: &[i32]) -> Result<Vec<Row>> {
    let docs = import(cases, "bench")?;
    let pages = pages(&docs);
    let mut rows = Vec::new();
    let (json, floor) = content_floor(cases)?;
    rows.push(row("cases as JSON lines", json));
    rows.push(row("content floor: zstd -19 of the JSON", floor));
    let saved: usize = docs.iter().map(|d| d.saved.len()).sum();
    rows.push(row("stored snapshots (save(), deflated columns)", saved));
    let mut inflated = 0;
    for d in &docs {
        inflated += inflate_document(&d.saved)?.len();
    }
    rows.push(row("snapshots with columns inflated", inflated));
    let summaries: Vec<&CaseSummary> = docs.iter().map(|d| &d.summary).collect();
    let s = postcard::to_allocvec(&summaries)?;
    rows.push(row("summaries, postcard", s.len()));
    rows.push(row(
        "summaries, postcard, zstd -9 (one frame)",
        zstd::bulk::compress(&s, 9)?.len(),
    ));
    rows.push(row(
        "heads + chunk checksums (incompressible, 36 B a case)",
        36 * docs.len(),
    ));
    rows.push(row(
        &format!("pages of {} KB budget", PAGE_BYTES / 1024),
        pages.len(),
    ));
    for inflate in [false, true] {
        let bodies = pages
            .iter()
            .map(|p| Ok(postcard::to_allocvec(&page(p, inflate)?)?))
            .collect::<Result<Vec<_>>>()?;
        let plain: usize = bodies.iter().map(Vec::len).sum();
        let kind = if inflate { "inflated" } else { "stored" };
        rows.push(row(&format!("pages, {kind} snapshots, postcard"), plain));
        for &level in levels {
            let start = Instant::now();
            let mut z = 0;
            for b in &bodies {
                z += zstd::bulk::compress(b, level)?.len() + 4;
            }
            rows.push(Row {
                what: format!("pages, {kind} snapshots, zstd -{level}"),
                bytes: z,
                ms: start.elapsed().as_secs_f64() * 1000.0,
            });
        }
    }
    Ok(rows)
}

fn row(what: &str, bytes: usize) -> Row {
    Row {
        what: what.into(),
        bytes,
        ms: 0.0,
    }
}
