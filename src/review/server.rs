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
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;

use crate::kinds::EventKind;
use crate::review::catalog::{stamp, Catalog, Stamp};
use crate::review::decisions::{self, Decision, Verdict};
use crate::review::{encode_segment, escape_html};

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
    let name = rel.rsplit('/').next().unwrap_or(rel);
    const ENDINGS: [&str; 8] =
        [".review.html", ".report.pdf", ".summary.json", ".events.parquet", ".frames.parquet", ".detections.parquet", "index.html", "decisions.parquet"];
    if ENDINGS.iter().any(|e| name.ends_with(e)) {
        return true;
    }
    if matches!(rel, "summary.parquet" | "manifest.jsonl" | "decisions.jsonl") {
        return true;
    }
    // the batch's event partitions: events/recording=<id>/part-0.parquet
    let parts: Vec<&str> = rel.split('/').collect();
    parts.len() == 3 && parts[0] == "events" && parts[1].starts_with("recording=") && parts[2] == "part-0.parquet"
}

/// Percent-decode a URL path (`None` when not valid UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if b[i] == b'%' {
            return None;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A query parameter's value.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(&v.replace('+', " "))).flatten()
    })
}

/// Compare in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token nobody can guess: 128 bits from the system's random source.
pub fn new_token() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_ok();
    if !ok {
        let seed = format!("{:?}{}{:p}", std::time::SystemTime::now(), std::process::id(), &b);
        return crate::ids::stable_hash(&seed)[..32].to_string();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
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

fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(ctype).unwrap_or(HeaderValue::from_static("text/plain")));
    r
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", msg.to_string())
}

fn json(v: &impl serde::Serialize) -> Response<Body> {
    full(StatusCode::OK, "application/json", serde_json::to_vec(v).unwrap_or_default())
}

/// A verdict as a page sends it.
#[derive(Debug, Deserialize)]
struct VerdictIn {
    recording: String,
    kind: EventKind,
    start_s: f64,
    end_s: f64,
    verdict: Verdict,
    #[serde(default)]
    note: String,
    /// The reviewer's name as the page has it (else the server's `--reviewer`).
    #[serde(default)]
    reviewer: String,
}

/// Whether a `Range` header is one range of bytes, well formed; any other
/// (several ranges, garbled) is ignored and the whole file served, as the
/// standard allows (RFC 9110, 14.2), instead of 416.
fn single_range(v: &str) -> bool {
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return false };
    let Some((a, b)) = spec.trim().split_once('-') else { return false };
    let num = |s: &str| -> Option<Option<u64>> { if s.is_empty() { Some(None) } else if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok().map(Some) } else { None } };
    match (num(a.trim()), num(b.trim())) {
        (Some(Some(a)), Some(Some(b))) => a <= b,
        (Some(Some(_)), Some(None)) | (Some(None), Some(Some(_))) => true,
        _ => false,
    }
}

/// Answer one request.
pub async fn handle(desk: Arc<Desk>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut resp = route(&desk, req).await;
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn route(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
    let query_token = query_param(req.uri().query(), "token");
    let header_token = req.headers().get("x-proctor-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let ok = |t: &Option<String>| t.as_deref().is_some_and(|t| same(t, &desk.token));
    let path = req.uri().path().to_string();
    if path == "/favicon.ico" {
        // asked for by browsers on their own; an empty answer keeps their consoles clean
        return full(StatusCode::NO_CONTENT, "image/x-icon", Bytes::new());
    }
    if req.method() == Method::POST {
        // a change needs the token itself, not only the cookie
        if !ok(&header_token) {
            return text(StatusCode::FORBIDDEN, "a verdict needs the X-Proctor-Token header of the review URL");
        }
        if path != "/api/decisions" {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        return post_decision(desk, req).await;
    }
    if !(ok(&query_token) || ok(&header_token)) {
        return refused(&req, query_token.is_some() || header_token.is_some());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD or POST");
    }
    match path.as_str() {
        "/api/decisions" | "/api/status" | "/api/missed" | "/api/decisions.csv" => {
            let rec = query_param(req.uri().query(), "recording");
            let d = desk.clone();
            let route = path.clone();
            let answer = tokio::task::spawn_blocking(move || {
                let all = match decisions::read_latest(&d.root) {
                    Ok(all) => all,
                    Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                };
                let all: Vec<Decision> = all.into_iter().filter(|x| rec.as_deref().is_none_or(|r| x.recording == r)).collect();
                // verdicts whose event is gone are not the page's, nor counted
                let (live, orphans) = decisions::split_orphans(all.clone(), &d.catalog.judgeable(&all));
                let only = |keep: fn(Verdict) -> bool| live.iter().filter(|x| keep(x.verdict)).collect::<Vec<_>>();
                match route.as_str() {
                    "/api/status" => {
                        let n: BTreeMap<String, usize> = crate::review::index::count_reviews(&live).into_iter().map(|(k, r)| (k, r.events)).collect();
                        json(&n)
                    }
                    "/api/missed" => json(&only(|v| v == Verdict::Missed)),
                    "/api/decisions.csv" => {
                        let mut r = full(StatusCode::OK, "text/csv; charset=utf-8", decisions::to_csv(&live, &orphans));
                        r.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"decisions.csv\""));
                        r
                    }
                    // the verdicts on flags (a verdict taken back is no verdict)
                    _ => json(&only(Verdict::judges_a_flag)),
                }
            })
            .await;
            answer.unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "could not read the verdicts"))
        }
        "/api/queue" => queue(desk).await,
        _ => serve(desk, req).await,
    }
}

async fn serve(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
    match desk.resolve(req.uri().path()) {
        Target::NotFound => text(StatusCode::NOT_FOUND, "not found"),
        Target::Index => {
            let d = desk.clone();
            let html = tokio::task::spawn_blocking(move || d.index_page()).await.unwrap_or_default();
            full(StatusCode::OK, "text/html; charset=utf-8", html)
        }
        Target::File { path, html: true } => match tokio::fs::read_to_string(&path).await {
            Ok(html) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let d = desk.clone();
                // finding the recording may hash it (once per file and change)
                let page = tokio::task::spawn_blocking(move || d.serve_html(&html, name.strip_suffix(".review.html"))).await.unwrap_or_default();
                full(StatusCode::OK, "text/html; charset=utf-8", page)
            }
            Err(_) => text(StatusCode::NOT_FOUND, "not found"),
        },
        Target::File { path, .. } | Target::Media(path) => serve_file(&path, req).await,
    }
}

/// A file through tower-http's `ServeFile` (Range, conditional requests).
async fn serve_file(path: &Path, req: Request<Incoming>) -> Response<Body> {
    use tower_service::Service;
    let (mut parts, _) = req.into_parts();
    let ranges: Vec<&HeaderValue> = parts.headers.get_all(header::RANGE).iter().collect();
    if ranges.len() > 1 || ranges.first().is_some_and(|v| !v.to_str().is_ok_and(single_range)) {
        parts.headers.remove(header::RANGE);
    }
    let req = Request::from_parts(parts, http_body_util::Empty::<Bytes>::new());
    let mut svc = tower_http::services::ServeFile::new(path);
    match svc.call(req).await {
        Ok(r) => {
            let mut r = r.map(|b| b.map_err(std::io::Error::other).boxed_unsync());
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
            r
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "could not read the file"),
    }
}

/// What a request without the current token gets: for a browser opening a
/// page, a plain page saying what happened and what to do; for a script, the
/// same in one line. `stale`: it carried a token, not the current one (the
/// server was restarted with a new token, or it is another server's).
fn refused(req: &Request<Incoming>, stale: bool) -> Response<Body> {
    let wants_html = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let (title, why) = if stale {
        (
            "This link's token is out of date",
            "The review server was restarted with a new token (<code>proctor review --new-token</code>, or its token \
file was removed), so the links, bookmarks and open tabs from before no longer work. The verdicts already saved are kept.",
        )
    } else {
        ("This page needs the review token", "Every page of the review server needs the token of the URL it printed.")
    };
    let todo = "Open the URL <code>proctor review</code> printed when it started (the first line of its output, \
<code>http://&hellip;/?token=&hellip;</code>). The token is kept in <code>.proctor-review-token</code> in the reviewed \
folder, readable only by the user who runs the server.";
    if !wants_html {
        let plain = |s: &str| s.replace("<code>", "`").replace("</code>", "`").replace("&hellip;", "…");
        return text(StatusCode::FORBIDDEN, &format!("{title}. {} {}", plain(why), plain(todo)));
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>proctor review: {title}</title>\n\
<style>body{{font:16px/1.5 system-ui,sans-serif;color:#1d1d1f;background:#fafafa;margin:0}}\
main{{max-width:40em;margin:3em auto;padding:0 1em}}code{{background:#eee;padding:0 .2em}}</style>\n</head>\n\
<body>\n<main id=\"refused\" data-stale=\"{stale}\">\n<h1>{title}</h1>\n<p>{why}</p>\n<p>{todo}</p>\n</main>\n</body>\n</html>\n"
    );
    full(StatusCode::FORBIDDEN, "text/html; charset=utf-8", html)
}

/// The queue, for a page to move on to the next recording: the index's rows,
/// in review priority, each with its link from the server's root.
async fn queue(desk: &Arc<Desk>) -> Response<Body> {
    let d = desk.clone();
    let rows = tokio::task::spawn_blocking(move || d.index_rows(crate::review::index::outputs_state(&d.root))).await.unwrap_or_default();
    json(&rows)
}

async fn post_decision(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "verdict too large"),
    };
    let v: VerdictIn = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("not a verdict: {e}")),
    };
    let mut d = Decision {
        schema_version: decisions::DECISIONS_SCHEMA_VERSION,
        recording: v.recording,
        kind: v.kind,
        start_s: v.start_s,
        end_s: v.end_s,
        verdict: v.verdict,
        note: v.note,
        reviewer: Some(v.reviewer.trim()).filter(|r| !r.is_empty()).unwrap_or(&desk.reviewer).to_string(),
        decided_at: crate::clock::now_rfc3339(),
        input_sha256: String::new(),
        config: String::new(),
    };
    if let Err(why) = d.check() {
        return text(StatusCode::BAD_REQUEST, &why);
    }
    let dd = desk.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let Some(entry) = dd.catalog.entry(&d.recording) else {
            return Err((StatusCode::NOT_FOUND, format!("no recording '{}' in this directory", d.recording)));
        };
        if d.verdict == Verdict::Missed {
            // a mark of what proctor did not raise: a span within the recording
            if d.end_s > entry.duration_s + 1.0 {
                return Err((StatusCode::BAD_REQUEST, format!("the span {}-{} s is not within the {:.1} s recording", d.start_s, d.end_s, entry.duration_s)));
            }
        } else if !entry.has_event(d.kind, d.start_s, d.end_s) {
            // a verdict judges an event the recording's outputs hold now
            return Err((
                StatusCode::NOT_FOUND,
                format!("recording '{}' has no {} event at {}-{} s (analysed again since the page was loaded? reload it)", d.recording, d.kind.as_str(), d.start_s, d.end_s),
            ));
        }
        d.input_sha256 = entry.sha256.clone();
        d.config = entry.config.clone();
        decisions::save(&dd.root, &d).map(|_| d).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await;
    match saved {
        Ok(Ok(d)) => json(&d),
        Ok(Err((status, why))) => text(status, &why),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the save failed"),
    }
}

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

fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token to serve `dir` with: the one in `dir/.proctor-review-token`
/// when there is one that only its owner can read (and not `rotate`),
/// otherwise a new one, written there with mode 0600 (through a temporary
/// file and a rename, so a reader never sees half a token).
pub fn token_for(dir: &Path, rotate: bool) -> (String, TokenFrom) {
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
                Some(t) if private => return (t, TokenFrom::Kept),
                Some(_) => why_new = Some(format!("{} could be read by other users", path.display())),
                None => why_new = Some(format!("{} did not hold a token", path.display())),
            }
        }
    }
    let token = new_token();
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
        Ok(()) => (token.clone(), why_new.map_or(TokenFrom::New, TokenFrom::Replaced)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            (token, TokenFrom::NotKept(format!("{}: {e}", path.display())))
        }
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

/// Tell where the token came from (after the serving line).
fn say_token(from: &TokenFrom, root: &Path) {
    let file = root.join(TOKEN_FILE);
    match from {
        TokenFrom::Kept => crate::warn!("proctor: the token of the last run, kept in {} (--new-token makes a new one)", file.display()),
        TokenFrom::New => crate::warn!("proctor: a new token, kept in {} for the next run (owner-only)", file.display()),
        TokenFrom::Replaced(why) => crate::warn!("proctor: warning: {why}: a new token replaces it (owner-only now); links from before stop working"),
        TokenFrom::NotKept(why) => crate::warn!("proctor: warning: the token could not be kept ({why}): the next run makes another"),
    }
}

/// Bind, print the URL (the first line of output), then serve until killed.
pub fn run(opts: ServeOptions) -> std::result::Result<(), String> {
    let (token, from) = token_for(&opts.dir, opts.new_token);
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
