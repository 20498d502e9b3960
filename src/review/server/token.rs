//! The desk's token: 128 random bits, kept owner-only in the directory for the next run, compared in constant time.

use std::path::Path;

/// Where `proctor review` keeps its token between runs, in DIR, readable by
/// its owner only: a restart reuses it, so open tabs and bookmarks keep
/// working; `--new-token` replaces it.
pub const TOKEN_FILE: &str = ".proctor-review-token";

/// What [`token_for`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenFrom {
    /// The one kept by the last run.
    Kept,
    /// A new one, now kept (there was none, or one was asked for).
    New,
    /// A new one, because the kept one could be read by others (or was not a
    /// token); now kept owner-only.
    Replaced(String),
    /// A new one that could not be kept (the next run makes another).
    NotKept(String),
}

pub(super) fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token to serve `dir` with: the one in `dir/.proctor-review-token`
/// when there is one that only its owner can read (and not `rotate`),
/// otherwise a new one, written there with mode 0600 (through a temporary
/// file and a rename, so a reader never sees half a token).
pub fn token_for(dir: &Path, rotate: bool) -> std::result::Result<(String, TokenFrom), String> {
    let path = dir.join(TOKEN_FILE);
    let mut why_new = None;
    if !rotate {
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            #[cfg(unix)]
            let private = {
                use std::os::unix::fs::PermissionsExt;
                meta.is_file() && meta.permissions().mode() & 0o077 == 0
            };
            #[cfg(not(unix))]
            let private = meta.is_file();
            let kept = std::fs::read_to_string(&path).ok().map(|t| t.trim().to_string()).filter(|t| is_token(t));
            match kept {
                Some(t) if private => return Ok((t, TokenFrom::Kept)),
                Some(_) => why_new = Some(format!("{} could be read by other users", path.display())),
                None => why_new = Some(format!("{} did not hold a token", path.display())),
            }
        }
    }
    let token = new_token()?;
    let tmp = dir.join(format!("{TOKEN_FILE}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let _ = std::fs::remove_file(&tmp);
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&tmp)?;
        f.write_all(format!("{token}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    match write() {
        Ok(()) => Ok((token.clone(), why_new.map_or(TokenFrom::New, TokenFrom::Replaced))),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Ok((token, TokenFrom::NotKept(format!("{}: {e}", path.display()))))
        }
    }
}

/// A token nobody can guess: 128 bits from the OS's random source
/// (`getrandom`); without one the desk does not start.
pub fn new_token() -> std::result::Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no random source for the desk's token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Compare in time independent of where the strings differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Tell where the token came from (after the serving line).
pub(super) fn say_token(from: &TokenFrom, root: &Path) {
    let file = root.join(TOKEN_FILE);
    match from {
        TokenFrom::Kept => crate::warn!("proctor: the token of the last run, kept in {} (--new-token makes a new one)", file.display()),
        TokenFrom::New => crate::warn!("proctor: a new token, kept in {} for the next run (owner-only)", file.display()),
        TokenFrom::Replaced(why) => crate::warn!("proctor: warning: {why}: a new token replaces it (owner-only now); links from before stop working"),
        TokenFrom::NotKept(why) => crate::warn!("proctor: warning: the token could not be kept ({why}): the next run makes another"),
    }
}
