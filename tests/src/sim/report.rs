//! What a run reports: its failure (seed, step, message, trace) or its counts.

/// A failed run: the seed, where it failed, why, and the last steps. Its `Debug` is its
/// `Display`, so `expect` in a test prints it readably.
#[derive(Clone)]
pub struct Failure {
    /// Seed of the run.
    pub seed: u64,
    /// Step at which it failed (steps of the random phase, then the quiet phase).
    pub step: usize,
    /// What went wrong.
    pub message: String,
    /// The last [`TRACE_TAIL`](super::TRACE_TAIL) lines of the trace.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed at step {}: {}",
            self.seed, self.step, self.message
        )?;
        writeln!(f, "  last steps:")?;
        for line in &self.trace {
            writeln!(f, "    {line}")?;
        }
        write!(
            f,
            "  reproduce: cargo run -p casesync-tests --bin sim -- --start {} --seeds 1 --verbose",
            self.seed
        )
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::error::Error for Failure {}

/// Counts of a run (for the summary line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Edits applied on devices.
    pub edits: usize,
    /// Edits the case rules refused locally.
    pub refused_edits: usize,
    /// Requests the server answered.
    pub served: usize,
    /// Messages lost (dropped, or sent into a cut link).
    pub lost: usize,
    /// Requests delivered twice.
    pub duplicated: usize,
    /// Cases erased.
    pub erased: usize,
    /// Devices revoked.
    pub revoked: usize,
    /// Scope shrinks (a district or sensitive access taken away).
    pub scope_shrinks: usize,
    /// Users disabled.
    pub disabled: usize,
    /// Refresh answers lost on the link.
    pub lost_refreshes: usize,
    /// Password logins asked for (a spent refresh token after the grace window).
    pub sign_ins: usize,
    /// Hostile pushes (all refused: `sim/hostile.rs`).
    pub hostile: usize,
}
