//! Files written whole or not at all, for the engine's teacher cache and the run folders alike.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`, so a
/// reader never sees half a file: a crash or a full disk leaves the old file (or none), and a
/// failed write removes the temporary one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        // Best effort: the write's own error is the one to report.
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    Ok(())
}
