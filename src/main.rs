//! The `kdlab` command: headless runs of presets, the list of bundled presets, and the
//! throughput benchmark. Exit codes: 0 success, 1 an unexpected failure, 2 bad input (preset,
//! data, device request), 3 a stage diverged.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
