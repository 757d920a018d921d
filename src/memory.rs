//! How much memory a run may plan for: the machine's memory (and the process's address-space
//! limit), read once per check, so sizes a preset asks for are refused before they are
//! allocated.

/// The most memory one run may plan to use, in bytes: half of the machine's memory, or of the
/// process's address-space limit (`ulimit -v`) when that is lower, so that what a preset asks
/// for is refused with a message before it is allocated rather than aborting mid-run. Where the
/// memory cannot be read, 8 GiB is assumed.
pub(crate) fn budget() -> u64 {
    limit().0 / 2
}

/// `this machine allows 12.6 GB (half its memory)`: the budget, for messages.
pub(crate) fn allows() -> String {
    let (_, by_ulimit) = limit();
    let (who, whose) =
        if by_ulimit { ("this process", "half its `ulimit -v`") } else { ("this machine", "half its memory") };
    format!("{who} allows {} ({whose})", describe_bytes(budget()))
}

/// The memory the budget is half of, and whether it is the address-space limit.
fn limit() -> (u64, bool) {
    const ASSUMED: u64 = 8 << 30;
    let machine = machine_memory().unwrap_or(ASSUMED);
    match address_space_limit() {
        Some(limit) if limit < machine => (limit, true),
        _ => (machine, false),
    }
}

/// Total memory, from `/proc/meminfo` (Linux).
fn machine_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kilobytes.checked_mul(1024)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn address_space_limit() -> Option<u64> {
    None
}

/// `12.3 GB`, `512 MB`: a byte count for messages.
pub(crate) fn describe_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}
