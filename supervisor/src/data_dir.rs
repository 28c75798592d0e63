//! Which directory holds the database and the generated secrets, and whether it survives a restart.
//!
//! Hugging Face Spaces mount persistent storage, when a Space has it, at `/data`; without it everything written
//! inside the container (the image's `/app/data` included) is gone after a restart, and with it the generated
//! `CRYPTO_SECRET` that decrypts every stored channel and token key. So the launcher prefers `/data`, and says
//! loudly when the directory it uses lives on the container's own, throw-away file system.

use std::path::{Component, Path, PathBuf};

/// Where Hugging Face Spaces mount persistent storage.
pub const PERSISTENT_STORAGE: &str = "/data";
/// The image's own data directory (the seed's `SQL_DSN=sqlite:///app/data/veloera.db` points into it).
pub const IMAGE_DATA_DIR: &str = "/app/data";

/// How the data directory was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `DATA_DIR` named it.
    Configured,
    /// `/data` exists and is writable.
    PersistentStorage,
    /// Neither: the image's `/app/data`.
    Image,
}

/// The directory the services keep their data in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    pub path: PathBuf,
    pub origin: Origin,
}

/// `configured` when set; else `persistent` when it is a writable directory; else `image`.
pub fn choose(configured: Option<PathBuf>, persistent: &Path, image: &Path) -> DataDir {
    if let Some(path) = configured {
        return DataDir { path, origin: Origin::Configured };
    }
    if persistent.is_dir() && nix::unistd::access(persistent, nix::unistd::AccessFlags::W_OK).is_ok() {
        return DataDir { path: persistent.to_path_buf(), origin: Origin::PersistentStorage };
    }
    DataDir { path: image.to_path_buf(), origin: Origin::Image }
}

/// A SQLite DSN whose file lies in the image's data directory, moved into `data_dir` when that is elsewhere:
/// the image's default `SQL_DSN` would otherwise keep the database on the throw-away file system while the
/// secrets that decrypt it go to persistent storage. Any other DSN is left as it is (`None`).
pub fn follow_sqlite(dsn: &str, data_dir: &Path) -> Option<String> {
    let rest = dsn.strip_prefix("sqlite://")?;
    let (path, query) = match rest.find('?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let file = Path::new(path).strip_prefix(IMAGE_DATA_DIR).ok()?;
    if data_dir == Path::new(IMAGE_DATA_DIR) || file.as_os_str().is_empty() {
        return None;
    }
    Some(format!("sqlite://{}{query}", data_dir.join(file).display()))
}

/// Whether files written to a directory outlive the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persistence {
    /// On a file system of its own (a volume, a bind mount, Spaces' persistent storage, a host disk).
    Kept,
    /// On a file system that a restart discards: the container's overlay root or memory.
    Lost { mount_point: String, fs_type: String },
    /// The mount table did not tell.
    Unknown,
}

/// File systems whose contents do not survive the container: its copy-on-write root and memory.
const THROW_AWAY: &[&str] = &["overlay", "aufs", "tmpfs", "ramfs"];

/// Judges `dir` (an absolute, canonical path) by the mount it lives on, from `/proc/self/mountinfo` text.
pub fn persistence(dir: &Path, mountinfo: &str) -> Persistence {
    let mut best: Option<(usize, &str, &str)> = None;
    for line in mountinfo.lines() {
        // `id parent major:minor root mount-point options [optional...] - fs-type source super-options`
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let Some(mount_point) = left.split(' ').nth(4) else { continue };
        let Some(fs_type) = right.split(' ').next() else { continue };
        let mount_point_path = unescape(mount_point);
        if !dir.starts_with(&mount_point_path) {
            continue;
        }
        let depth = Path::new(&mount_point_path).components().filter(|c| matches!(c, Component::Normal(_))).count();
        // Later lines win at equal depth: a mount stacked on the same point hides the one below.
        if best.is_none_or(|(d, _, _)| depth >= d) {
            best = Some((depth, mount_point, fs_type));
        }
    }
    match best {
        None => Persistence::Unknown,
        Some((_, mount_point, fs_type)) if THROW_AWAY.contains(&fs_type) => {
            Persistence::Lost { mount_point: unescape(mount_point), fs_type: fs_type.to_string() }
        }
        Some(_) => Persistence::Kept,
    }
}

/// mountinfo writes space, tab, newline and backslash as three-digit octal escapes.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The warning to print when `dir` is not persistent (`None` when it is, or when that cannot be told).
/// `on_space`: running on Hugging Face Spaces (which sets `SPACE_ID`).
pub fn warning(dir: &Path, persistence: &Persistence, on_space: bool) -> Option<String> {
    let Persistence::Lost { mount_point, fs_type } = persistence else { return None };
    let remedy = if on_space {
        "Enable persistent storage in the Space's settings (it is mounted at /data and used automatically), or \
         set SQL_DSN to an external database and SESSION_SECRET, CRYPTO_SECRET and INTERNAL_SECRET as Space secrets."
    } else {
        "Mount a volume on it (docker run -v veloera-data:/app/data ...), or set SQL_DSN to an external database \
         and SESSION_SECRET, CRYPTO_SECRET and INTERNAL_SECRET in the environment."
    };
    Some(format!(
        "THE DATA DIRECTORY {} IS NOT PERSISTENT ({fs_type} at {mount_point}). The SQLite database and the \
         generated secrets (session_secret, crypto_secret, internal_secret) are lost when the container \
         restarts, and with crypto_secret every stored channel and token key becomes unreadable. {remedy}",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER: &str = "\
1 0 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
2 1 0:52 / /proc rw,nosuid - proc proc rw
3 1 259:1 /volumes/veloera-data/_data /app/data rw,relatime - ext4 /dev/nvme0n1p1 rw
4 1 0:60 / /dev/shm rw - tmpfs shm rw,size=65536k
5 1 259:2 / /my\\040disk rw - xfs /dev/sdb rw";

    #[test]
    fn a_volume_is_kept_and_the_overlay_root_is_lost() {
        assert_eq!(persistence(Path::new("/app/data"), CONTAINER), Persistence::Kept);
        assert_eq!(persistence(Path::new("/app/data/sub"), CONTAINER), Persistence::Kept);
        assert_eq!(
            persistence(Path::new("/app/other"), CONTAINER),
            Persistence::Lost { mount_point: "/".into(), fs_type: "overlay".into() }
        );
        assert!(matches!(persistence(Path::new("/dev/shm/x"), CONTAINER), Persistence::Lost { .. }));
    }

    #[test]
    fn escaped_mount_points_and_prefixes_that_are_not_parents() {
        assert_eq!(persistence(Path::new("/my disk/data"), CONTAINER), Persistence::Kept);
        // `/app/database` is not under the `/app/data` mount.
        assert!(matches!(persistence(Path::new("/app/database"), CONTAINER), Persistence::Lost { .. }));
        assert_eq!(persistence(Path::new("/x"), ""), Persistence::Unknown);
    }

    #[test]
    fn the_warning_names_the_directory_and_the_remedy_of_the_platform() {
        let lost = Persistence::Lost { mount_point: "/".into(), fs_type: "overlay".into() };
        let space = warning(Path::new("/app/data"), &lost, true).unwrap();
        assert!(space.contains("/app/data") && space.contains("persistent storage") && space.contains("crypto_secret"));
        assert!(warning(Path::new("/app/data"), &lost, false).unwrap().contains("-v veloera-data:/app/data"));
        assert_eq!(warning(Path::new("/app/data"), &Persistence::Kept, true), None);
    }

    #[test]
    fn configured_beats_persistent_storage_which_beats_the_image_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        let image = Path::new(IMAGE_DATA_DIR);
        let configured = choose(Some("/somewhere".into()), tmp.path(), image);
        assert_eq!(configured, DataDir { path: "/somewhere".into(), origin: Origin::Configured });
        assert_eq!(choose(None, tmp.path(), image).origin, Origin::PersistentStorage);
        assert_eq!(choose(None, &missing, image), DataDir { path: image.into(), origin: Origin::Image });
    }

    #[test]
    fn the_image_sqlite_file_follows_the_data_directory() {
        let data = Path::new("/data");
        assert_eq!(follow_sqlite("sqlite:///app/data/veloera.db", data).as_deref(), Some("sqlite:///data/veloera.db"));
        assert_eq!(
            follow_sqlite("sqlite:///app/data/veloera.db?mode=rwc", data).as_deref(),
            Some("sqlite:///data/veloera.db?mode=rwc")
        );
        assert_eq!(follow_sqlite("sqlite:///app/data/veloera.db", Path::new(IMAGE_DATA_DIR)), None);
        assert_eq!(follow_sqlite("sqlite:///srv/veloera.db", data), None);
        assert_eq!(follow_sqlite("postgres://u@h/db", data), None);
        assert_eq!(follow_sqlite("sqlite:///app/database.db", data), None);
    }
}
