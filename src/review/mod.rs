//! The reviewer's desk: a review page per recording (`<id>.review.html`),
//! an archive index (`index.html`), the verdicts reviewers give
//! (`decisions.parquet` and its journal), the server that takes them
//! (`proctor review`) and the precision they measure (`proctor eval
//! --decisions`).
//!
//! The pages are single self-contained files: their data is inline JSON,
//! their style and script inline, the evidence pictures `data:` URIs; only
//! the recording is referenced, by its path relative to the page. Opened from
//! the disk they show the verdicts known when they were written, read-only;
//! served by `proctor review` they fetch the current verdicts and take new
//! ones.

pub mod catalog;

/// The helpers the index's script and the review page's share (one
/// `<script>` before each page's own).
pub static COMMON_JS: &str = include_str!("assets/common.js");

pub mod decisions;
pub mod index;
pub mod page;
pub mod server;

use std::path::{Component, Path, PathBuf};

/// `s` as text safe anywhere in HTML (element content and quoted attributes).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value as JSON safe inside `<script type="application/json">`: the
/// characters that could end the element or start markup (`<`, `>`, `&`)
/// and the line separators JavaScript once took as line ends are written as
/// `\u` escapes (they can only occur inside JSON strings, where an escape
/// means the same character).
pub fn script_json<T: serde::Serialize>(v: &T) -> String {
    let json = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (with padding), for `data:` URIs.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Everything but RFC 3986's unreserved characters is encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encode one path segment of a URL (unreserved characters kept).
pub fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// `p` made absolute and without `.`/`..` (resolved through symlinks where
/// it exists).
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The URL of `target` relative to the directory `from` (both made
/// absolute first), each segment percent-encoded: what a page in `from`
/// puts in a `src` to reach `target`. `None` when they share no root.
pub fn relative_url(from: &Path, target: &Path) -> Option<String> {
    let (from, target) = (absolute(from), absolute(target));
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = target.components().collect();
    if a.first() != b.first() {
        return None;
    }
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), a.len() - common).collect();
    parts.extend(b[common..].iter().map(|c| encode_segment(&c.as_os_str().to_string_lossy())));
    Some(parts.join("/"))
}

/// The colour each kind is drawn in: [`crate::kinds::colour`], the one palette.
pub use crate::kinds::colour as kind_color;

/// Where the verdicts of an output directory are kept: `decisions.parquet`
/// in the directory `proctor review` serves. A recording's outputs are in
/// that directory (`proctor analyze -o DIR`) or in its `recordings/`
/// (`proctor batch -o DIR`).
pub fn desk_dir(outdir: &Path) -> PathBuf {
    if outdir.file_name().is_some_and(|n| n == "recordings") {
        if let Some(parent) = outdir.parent() {
            if parent.join("manifest.jsonl").exists() {
                return if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() };
            }
        }
    }
    outdir.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_script_escapes() {
        assert_eq!(escape_html("<b a=\"x\">&'</b>"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;&lt;/b&gt;");
        let j = script_json(&serde_json::json!({"n": "</script><script>alert(1)</script>\u{2028}"}));
        assert!(!j.contains('<') && !j.contains('>'), "{j}");
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["n"], "</script><script>alert(1)</script>\u{2028}");
    }

    #[test]
    fn base64_matches_known_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn relative_urls() {
        assert_eq!(relative_url(Path::new("/a/b/out"), Path::new("/a/v/x y.webm")).unwrap(), "../../v/x%20y.webm");
        assert_eq!(relative_url(Path::new("/a/b"), Path::new("/a/b/c.mp4")).unwrap(), "c.mp4");
        assert_eq!(relative_url(Path::new("/a/b/../c"), Path::new("/a/c/d.mp4")).unwrap(), "d.mp4");
    }
}
