//! Files only their owner may read: private keys and secrets the suite creates.
//!
//! A secret is written under a temporary name in the same directory, created with mode 0600
//! (on Unix; the umask can only take bits away), flushed to disk, and then renamed into place
//! (or linked, when it must not replace anything): at no moment does the path hold a
//! world-readable or half-written secret.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` (replacing what is there) as a file only its owner can read.
pub fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = write_temporary(path, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Creates `path` holding `bytes`, as [`write_secret`] does, unless something is already
/// there: then nothing is written and the answer is `Ok(false)`. Two processes racing to
/// create the same secret (replicas starting together) end up reading the same one.
pub fn create_secret(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let temporary = write_temporary(path, bytes)?;
    // A hard link never replaces an existing file, unlike a rename.
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: create the file itself, exclusively, 0600.
        Err(_) => match open_private(path) {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                Ok(true)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error),
        },
    }
}

fn write_temporary(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let temporary = path.with_file_name(temporary_name);
    let mut file = open_private(&temporary)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    Ok(temporary)
}

/// A new file (never an existing one), readable and writable by its owner only.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_secret_is_written_owner_only_even_over_a_world_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
    }

    #[test]
    fn creating_a_secret_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        assert!(create_secret(&path, b"first").unwrap());
        assert_eq!(mode(&path), 0o600);
        assert!(!create_secret(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
    }
}
