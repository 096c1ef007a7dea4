//! Runs many seeds of the multi-device simulation and prints each failure with its seed.
//!
//! `cargo run --profile production -p casesync-tests --bin sim -- --seeds 10000 [--start S] [--steps K]`

use std::process::ExitCode;
use std::time::Instant;

use casesync_tests::sim::run_seed;
use clap::Parser;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(about = "casesync deterministic multi-device simulation")]
struct Args {
    /// Number of seeds to run.
    #[arg(long, default_value_t = 10_000)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Random steps per seed.
    #[arg(long, default_value_t = 80)]
    steps: usize,
    /// Print every step (use with one seed).
    #[arg(long)]
    verbose: bool,
    /// Runs of each seed (every run of a seed is the same: actor and entry ids come from
    /// the seed too; more than one run checks that).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let t = Instant::now();
    let (mut passed, mut failed) = (0u64, Vec::new());
    for seed in args.start..args.start + args.seeds {
        let first_failure =
            (0..args.repeat.max(1)).find_map(|_| run_seed(seed, args.steps, args.verbose).err());
        match first_failure {
            None => passed += 1,
            Some(f) => {
                println!("{f}\n");
                failed.push(seed);
            }
        }
    }
    println!(
        "{passed} passed, {} failed ({} steps per seed, {:.1} s)",
        failed.len(),
        args.steps,
        t.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failed seeds: {failed:?}");
        ExitCode::FAILURE
    }
}
