//! The desk's requests: the token checked, pages, files and media served (Range answered), the verdict API.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;

use crate::kinds::EventKind;
use crate::review::decisions::{self, Decision, Verdict};

use super::*;

pub(super) fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(ctype).unwrap_or(HeaderValue::from_static("text/plain")));
    r
}

pub(super) fn text(status: StatusCode, msg: &str) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", msg.to_string())
}

pub(super) fn json(v: &impl serde::Serialize) -> Response<Body> {
    full(StatusCode::OK, "application/json", serde_json::to_vec(v).unwrap_or_default())
}

/// A verdict as a page sends it.
#[derive(Debug, Deserialize)]
pub(super) struct VerdictIn {
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
pub(super) fn single_range(v: &str) -> bool {
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

pub(super) async fn route(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
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

pub(super) async fn serve(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
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
pub(super) async fn serve_file(path: &Path, req: Request<Incoming>) -> Response<Body> {
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
pub(super) fn refused(req: &Request<Incoming>, stale: bool) -> Response<Body> {
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
pub(super) async fn queue(desk: &Arc<Desk>) -> Response<Body> {
    let d = desk.clone();
    let rows = tokio::task::spawn_blocking(move || d.index_rows(crate::review::index::outputs_state(&d.root))).await.unwrap_or_default();
    json(&rows)
}

pub(super) async fn post_decision(desk: &Arc<Desk>, req: Request<Incoming>) -> Response<Body> {
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

/// Percent-decode a URL path (`None` when not valid UTF-8).
pub(super) fn percent_decode(s: &str) -> Option<String> {
    // a '%' not followed by two hex digits is refused, not kept as it is
    let b = s.as_bytes();
    let malformed = b.iter().enumerate().any(|(i, &c)| {
        c == b'%' && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if malformed {
        return None;
    }
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(std::borrow::Cow::into_owned)
}

/// A query parameter's value (`application/x-www-form-urlencoded`).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
