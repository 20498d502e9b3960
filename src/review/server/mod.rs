//! `proctor review DIR`: serves an output directory's pages and the
//! recordings its summaries name, and takes the reviewers' verdicts.
//!
//! Built on hyper (HTTP/1.1) with tower-http's `ServeFile` for the files, so
//! that recordings get `Range` requests answered (206) and a browser can seek
//! in them. Every request must carry the token of the printed URL: in the
//! URL (`token=`; pages served here carry it on in their links and media
//! URLs) or in the `X-Proctor-Token` header, which a verdict (`POST`) must
//! use and which pages read from the `proctor-desk` meta element the server
//! fills in. No cookie is set: cookies ignore ports, so one would go to every
//! other service on the same host. Only these are served: the index, DIR's
//! proctor outputs (by name: review pages, reports, summaries, tables), and
//! the recordings the summaries name (as `/media/<id>`), once their sha256
//! is the one the summary gives; a path with `..`, an absolute path, a
//! symlink leading out of DIR, or any other file is 404.
//!
//! A verdict must judge an event the recording's outputs hold now; it is
//! kept with the recording's sha256 and the configuration's fingerprint.
//! Connections that send no request headers for `idle` seconds are closed,
//! and when the process runs out of file descriptors the accept loop waits
//! instead of spinning.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::review::catalog::{stamp, Catalog, Stamp};
use crate::review::decisions;
use crate::review::{encode_segment, escape_html};

mod routes;
mod token;

pub use routes::handle;
use routes::percent_decode;
pub use token::{new_token, token_for, TokenFrom, TOKEN_FILE};
use token::{same, say_token};

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// Largest verdict body taken.
const MAX_BODY: usize = 64 << 10;

const META_EMPTY: &str = "<meta name=\"proctor-desk\" content=\"\">";

/// The served directory and what the server knows of it.
pub struct Desk {
    /// DIR, canonical.
    root: PathBuf,
    token: String,
    reviewer: String,
    /// The recordings' summaries and events, read on demand.
    catalog: Catalog,
    /// sha256 of files looked at as recordings, by path, kept while their
    /// modification time and length stay the same.
    hashes: Mutex<BTreeMap<PathBuf, ((SystemTime, u64), String)>>,
    /// The index's rows as last read from the outputs, and the page as last
    /// served, each with the state of the files it was made from: used again
    /// as long as those are unchanged (one copy of the page shared by every
    /// request).
    rows: Mutex<Option<(u64, Vec<crate::review::index::IndexRow>)>>,
    index: Mutex<Option<((u64, Stamp, Stamp), Bytes)>>,
}

/// What a request path names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Index,
    /// A file of DIR (canonical path), HTML when `html`.
    File { path: PathBuf, html: bool },
    /// A recording (canonical path).
    Media(PathBuf),
    NotFound,
}

/// File names served from DIR: proctor's outputs, nothing else.
fn is_output_name(rel: &str) -> bool {
    use crate::records::OutputFile;
    let name = rel.rsplit('/').next().unwrap_or(rel);
    // a recording's outputs but its pictures and face descriptors (the page
    // embeds what it shows; descriptors are biometric data)
    if OutputFile::parse(name).is_some_and(|(_, f)| !matches!(f, OutputFile::Evidence | OutputFile::Embeddings)) {
        return true;
    }
    if name == "index.html" || name == decisions::TABLE {
        return true;
    }
    if matches!(rel, "summary.parquet" | crate::records::MANIFEST | "decisions.jsonl") {
        return true;
    }
    // the batch's event partitions: events/recording=<id>/part-0.parquet
    let parts: Vec<&str> = rel.split('/').collect();
    parts.len() == 3 && parts[0] == "events" && parts[1].starts_with("recording=") && parts[2] == "part-0.parquet"
}

impl Desk {
    pub fn new(dir: &Path, token: String, reviewer: String) -> std::result::Result<Desk, String> {
        let root = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        Ok(Desk { catalog: Catalog::new(&root), root, token, reviewer, hashes: Mutex::new(BTreeMap::new()), rows: Mutex::new(None), index: Mutex::new(None) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The index's rows, with what the reviewers did. A verdict changes the
    /// counts, not the rows: the summaries are read again only when the
    /// outputs' state (`index::outputs_state`) is not `outputs` any more.
    pub fn index_rows(&self, outputs: u64) -> Vec<crate::review::index::IndexRow> {
        let rows = {
            let mut cached = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            match &*cached {
                Some((s, rows)) if *s == outputs => rows.clone(),
                _ => {
                    let rows = crate::review::index::rows_of_outputs(&self.root);
                    *cached = Some((outputs, rows.clone()));
                    rows
                }
            }
        };
        crate::review::index::with_reviews(rows, &crate::review::index::reviewed_counts(&self.root, &self.catalog))
    }

    /// The index page: made again only when what it is made from changed
    /// (a summary or the manifest, by name, modification time and length;
    /// the verdict files).
    pub fn index_page(&self) -> Bytes {
        let outputs = crate::review::index::outputs_state(&self.root);
        let state = (outputs, stamp(&self.root.join(decisions::TABLE)), stamp(&self.root.join(decisions::JOURNAL)));
        if let Some((s, page)) = &*self.index.lock().unwrap_or_else(|e| e.into_inner()) {
            if *s == state {
                return page.clone();
            }
        }
        let rows = self.index_rows(outputs);
        let title = format!("proctor review: {}", self.root.display());
        let page = Bytes::from(self.serve_html(&crate::review::index::render(&title, &rows), None));
        *self.index.lock().unwrap_or_else(|e| e.into_inner()) = Some((state, page.clone()));
        page
    }

    /// The sha256 of the file at `p` (canonical), computed once per
    /// modification time and length.
    fn sha256_of(&self, p: &Path) -> Option<String> {
        let now = stamp(p)?;
        if let Some((then, h)) = self.hashes.lock().unwrap_or_else(|e| e.into_inner()).get(p) {
            if *then == now {
                return Some(h.clone());
            }
        }
        let h = crate::ids::sha256_file(p).ok()?;
        self.hashes.lock().unwrap_or_else(|e| e.into_inner()).insert(p.to_path_buf(), (now, h.clone()));
        Some(h)
    }

    /// The recording `id` was analysed from, or why it cannot be served: the
    /// summary's path (a relative one is looked for beside the summary, in
    /// DIR, in DIR's parent, then in the server's working directory), the
    /// first file there whose sha256 is the summary's.
    pub fn media_of(&self, id: &str) -> std::result::Result<PathBuf, String> {
        let Some(entry) = self.catalog.entry(id) else { return Err(format!("no recording '{id}' in {}", self.root.display())) };
        let p = Path::new(&entry.path);
        let candidates: Vec<PathBuf> = if p.is_absolute() {
            vec![p.to_path_buf()]
        } else {
            let sdir = entry.summary.parent().unwrap_or(&self.root);
            let mut c = vec![sdir.join(p), self.root.join(p), self.root.parent().unwrap_or(&self.root).join(p)];
            if let Ok(cwd) = std::env::current_dir() {
                c.push(cwd.join(p));
            }
            c
        };
        let mut differ = Vec::new();
        for c in &candidates {
            let Ok(c) = c.canonicalize() else { continue };
            if !c.is_file() || differ.contains(&c) {
                continue;
            }
            if entry.sha256.is_empty() || self.sha256_of(&c).as_deref() == Some(entry.sha256.as_str()) {
                return Ok(c);
            }
            differ.push(c);
        }
        let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        if differ.is_empty() {
            Err(format!("The recording was not found: the server looked for it at {}.", looked.join(", ")))
        } else {
            let at: Vec<String> = differ.iter().map(|c| c.display().to_string()).collect();
            Err(format!(
                "The file at {} is not the recording that was analysed (its sha256 differs from the summary's), so it is not played; the server looked for it at {}.",
                at.join(", "),
                looked.join(", ")
            ))
        }
    }

    /// What the (still percent-encoded) request path names.
    pub fn resolve(&self, raw_path: &str) -> Target {
        let Some(path) = percent_decode(raw_path) else { return Target::NotFound };
        let Some(rel) = path.strip_prefix('/') else { return Target::NotFound };
        if rel.is_empty() || rel == "index.html" {
            return Target::Index;
        }
        if rel.contains('\\') || rel.contains('\0') || rel.starts_with('/') {
            return Target::NotFound;
        }
        if rel.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return Target::NotFound;
        }
        if let Some(id) = rel.strip_prefix("media/") {
            return match self.media_of(id) {
                Ok(p) => Target::Media(p),
                Err(_) => Target::NotFound,
            };
        }
        if !is_output_name(rel) || Path::new(rel).is_absolute() {
            return Target::NotFound;
        }
        match self.root.join(rel).canonicalize() {
            Ok(p) if p.starts_with(&self.root) && p.is_file() => Target::File { html: rel.ends_with(".html"), path: p },
            _ => Target::NotFound,
        }
    }

    /// The `proctor-desk` meta element's content for a page: the token, the
    /// reviewer, where the API and (for a review page) the recording are.
    fn desk_meta(&self, recording: Option<&str>) -> String {
        let q = format!("?token={}", self.token);
        let mut v = serde_json::json!({"token": self.token, "reviewer": self.reviewer, "api": "/api/", "query": q});
        if let Some(id) = recording {
            match self.media_of(id) {
                Ok(_) => v["media"] = serde_json::Value::String(format!("/media/{}{q}", encode_segment(id))),
                // the page says what the server looked at, not where the page was written
                Err(why) => v["media_note"] = serde_json::Value::String(why),
            }
        }
        format!("<meta name=\"proctor-desk\" content=\"{}\">", escape_html(&v.to_string()))
    }

    fn serve_html(&self, html: &str, recording: Option<&str>) -> String {
        html.replacen(META_EMPTY, &self.desk_meta(recording), 1)
    }
}

/// How `proctor review` runs.
pub struct ServeOptions {
    pub dir: PathBuf,
    pub listen: IpAddr,
    /// 0: any free port.
    pub port: u16,
    pub reviewer: String,
    pub open: bool,
    /// Close a connection that sends no request headers for this long.
    pub idle: Duration,
    /// Make a new token rather than reuse the kept one.
    pub new_token: bool,
}

/// The default reviewer: the user's name.
pub fn default_reviewer() -> String {
    ["USER", "USERNAME", "LOGNAME"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty())).unwrap_or_else(|| "reviewer".into())
}

/// Bind, print the URL (the first line of output), then serve until killed.
pub fn run(opts: ServeOptions) -> std::result::Result<(), String> {
    let (token, from) = token_for(&opts.dir, opts.new_token)?;
    let desk = Arc::new(Desk::new(&opts.dir, token, opts.reviewer.clone())?);
    // a verdicts table this proctor cannot read is never written over: say so now
    let loaded = decisions::open(&desk.root).map_err(|e| e.to_string())?;
    for p in &loaded.problems {
        crate::warn!("proctor: warning: {p}");
    }
    let listener = std::net::TcpListener::bind(SocketAddr::new(opts.listen, opts.port)).map_err(|e| format!("{}:{}: {e}", opts.listen, opts.port))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let host = if addr.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { addr.ip() };
    let url = format!("http://{}/?token={}", SocketAddr::new(host, addr.port()), desk.token);
    crate::say!("{url}");
    if !opts.listen.is_loopback() {
        crate::warn!(
            "proctor: warning: listening on {} (not loopback only): anyone who can reach it and has the token can watch the recordings",
            opts.listen
        );
    }
    crate::warn!("proctor: serving {} as reviewer '{}'; verdicts go to {}; Ctrl-C to stop", desk.root.display(), opts.reviewer, desk.root.join(decisions::TABLE).display());
    say_token(&from, &desk.root);
    if opts.open {
        let opener = if cfg!(target_os = "macos") { "open" } else if cfg!(windows) { "explorer" } else { "xdg-open" };
        if let Err(e) = std::process::Command::new(opener).arg(&url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn() {
            crate::warn!("proctor: warning: could not open a browser ({opener}: {e}); open the URL above");
        }
    }
    // few threads for the blocking work (files, hashes, the index): a crowd of
    // requests waits for them instead of each growing the process by a thread
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().max_blocking_threads(8).build().map_err(|e| e.to_string())?;
    {
        // the index of a large archive is read before the first reviewer asks for it
        let d = desk.clone();
        std::thread::spawn(move || d.index_page());
    }
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let idle = opts.idle;
        let mut backoff = Duration::from_millis(1);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = Duration::from_millis(1);
                    stream
                }
                Err(e) => {
                    // out of file descriptors (EMFILE, ENFILE) or memory: accepting again at
                    // once fails again at once; wait for connections to close instead
                    if backoff >= Duration::from_millis(100) {
                        crate::warn!("proctor: warning: cannot accept a connection ({e}); waiting");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                    continue;
                }
            };
            let desk = desk.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| handle(desk.clone(), req));
                let mut b = hyper::server::conn::http1::Builder::new();
                // also closes a kept-alive connection idle for that long
                b.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(idle);
                let _ = b.serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
            });
        }
    })
}

#[cfg(test)]
mod tests;
