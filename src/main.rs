//! The `kdlab` command: headless runs of presets, the list of bundled presets, and the
//! throughput benchmark. Exit codes: 0 success, 1 an unexpected failure, 2 bad input (preset,
//! data, device request), 3 a stage diverged.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    keep_freed_memory();
    cli::main()
}

/// Training on the CPU allocates and frees tensors of megabytes at every step. glibc hands each
/// block over 128 KB back to the kernel when it is freed and maps fresh pages for the next one,
/// which the kernel zero-fills page by page: on the kd teacher that cost half the step. Blocks
/// up to 32 MB (glibc's upper limit for this setting) now come from the heap and are reused.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    const LARGEST_REUSED_BLOCK: i32 = 32 << 20;
    const KEPT_FREE: i32 = 1 << 30;
    // SAFETY: mallopt only changes allocator thresholds; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGEST_REUSED_BLOCK);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT_FREE);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
