//! Where a caseload comes from: the recorded files, or the seeded generator.
//!
//! Tests always run on the generator and, when the recorded caseload is reachable, also
//! on it ([`CaseloadSource::recorded`]). Benchmarks take `--caseload DIR`, else the
//! recorded caseload when it is reachable (so their figures compare with other engines
//! on the same work), else the generator, and print which one they measured
//! ([`CaseloadSource::describe`]).
//!
//! Reachable means: in `$CASESYNC_BENCH_DIR` when that variable is set — the only place
//! looked at then, and set but empty means "no recorded caseload" — else in
//! `shared/bench` beside the repository, where this project is developed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::generate::{generated_caseload, generated_edits};
use super::{BenchCase, Edits};

/// Environment variable naming the directory of the recorded caseload; when it is set,
/// no other place is looked at (empty: none).
pub const BENCH_DIR_ENV: &str = "CASESYNC_BENCH_DIR";
/// File of the recorded caseload (gzip, one JSON record a line).
pub const CASELOAD_FILE: &str = "caseload-10000.jsonl.gz";
/// File of the recorded offline edits.
pub const EDITS_FILE: &str = "edits.json";
/// Seed of the generated caseload unless another is asked for.
pub const DEFAULT_SEED: u64 = 1;

/// `shared/bench` beside the repository (this crate is `<repo>/tests`).
fn beside_repo() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside = tests.parent().and_then(Path::parent).unwrap_or(tests);
    beside.join("shared").join("bench")
}

/// A caseload: the recorded files in a directory, or the generator with a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseloadSource {
    /// The directory holding [`CASELOAD_FILE`] and [`EDITS_FILE`].
    Recorded(PathBuf),
    /// The seeded generator ([`super::generate`]).
    Generated {
        /// Its seed.
        seed: u64,
    },
}

/// The benchmarks' command-line choice of caseload (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CaseloadArgs {
    /// Directory of the recorded caseload (`caseload-10000.jsonl.gz`, `edits.json`).
    /// Default: `$CASESYNC_BENCH_DIR`, else `shared/bench` beside the repository, when
    /// the files are there; else the seeded generator.
    #[arg(long, value_name = "DIR")]
    pub caseload: Option<PathBuf>,
    /// Measure the generated caseload even when the recorded one is there.
    #[arg(long, conflicts_with = "caseload")]
    pub generated: bool,
    /// Seed of the generated caseload.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

impl CaseloadSource {
    /// The recorded caseload if it is reachable (see the module documentation), with the
    /// reason when it is not.
    pub fn recorded() -> Result<Self, String> {
        let (dir, from) = match std::env::var_os(BENCH_DIR_ENV) {
            Some(dir) if dir.is_empty() => return Err(format!("{BENCH_DIR_ENV} is empty")),
            Some(dir) => (PathBuf::from(dir), BENCH_DIR_ENV),
            None => (beside_repo(), "beside the repository"),
        };
        if dir.join(CASELOAD_FILE).is_file() && dir.join(EDITS_FILE).is_file() {
            Ok(CaseloadSource::Recorded(dir.canonicalize().unwrap_or(dir)))
        } else {
            Err(format!(
                "no {CASELOAD_FILE} and {EDITS_FILE} in {} ({from})",
                dir.display()
            ))
        }
    }

    /// What a benchmark measures: `--caseload DIR` (which must hold the files), the
    /// generator with `--generated`, else the recorded caseload when it is reachable,
    /// else the generator. The second value says why when it is the generator.
    pub fn from_env_or_args(args: &CaseloadArgs) -> anyhow::Result<(Self, Option<String>)> {
        if let Some(dir) = &args.caseload {
            for file in [CASELOAD_FILE, EDITS_FILE] {
                if !dir.join(file).is_file() {
                    bail!("--caseload {}: no {file} there", dir.display());
                }
            }
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            return Ok((CaseloadSource::Recorded(dir), None));
        }
        let generated = CaseloadSource::Generated { seed: args.seed };
        if args.generated {
            return Ok((generated, Some("--generated".into())));
        }
        Ok(match Self::recorded() {
            Ok(recorded) => (recorded, None),
            Err(why) => (generated, Some(why)),
        })
    }

    /// One line for the benchmarks' output: `recorded caseload DIR` or `generated
    /// caseload, seed N`.
    pub fn describe(&self) -> String {
        match self {
            CaseloadSource::Recorded(dir) => format!("recorded caseload {}", dir.display()),
            CaseloadSource::Generated { seed } => format!("generated caseload, seed {seed}"),
        }
    }

    /// [`describe`](Self::describe), with why the generator is used when there is a
    /// reason (the second value of [`from_env_or_args`](Self::from_env_or_args)).
    pub fn describe_why(&self, why: Option<&str>) -> String {
        match why {
            Some(why) => format!("{} ({why})", self.describe()),
            None => self.describe(),
        }
    }

    /// The first `n` cases (all of them when a recorded file has fewer).
    pub fn load(&self, n: usize) -> anyhow::Result<Vec<BenchCase>> {
        match self {
            CaseloadSource::Recorded(dir) => read_caseload(&dir.join(CASELOAD_FILE), n),
            CaseloadSource::Generated { seed } => Ok(generated_caseload(*seed, n)),
        }
    }

    /// The two sets of offline edits.
    pub fn edits(&self) -> anyhow::Result<Edits> {
        match self {
            CaseloadSource::Recorded(dir) => read_edits(&dir.join(EDITS_FILE)),
            CaseloadSource::Generated { seed } => Ok(generated_edits(*seed)),
        }
    }
}

/// The first `n` records of a recorded caseload file.
fn read_caseload(path: &Path, n: usize) -> anyhow::Result<Vec<BenchCase>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::with_capacity(n.min(10_000));
    for (i, line) in reader.lines().enumerate() {
        if out.len() >= n {
            break;
        }
        let line = line.with_context(|| format!("reading {} line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let case = serde_json::from_str(&line)
            .with_context(|| format!("parsing {} line {}", path.display(), i + 1))?;
        out.push(case);
    }
    Ok(out)
}

/// A recorded edits file.
fn read_edits(path: &Path) -> anyhow::Result<Edits> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
