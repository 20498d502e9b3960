//! Tests of `review/server.rs`.

use super::*;
use super::routes::{percent_decode, query_param};
use super::token::{is_token, same};
use crate::kinds::EventKind;

fn desk_with_files() -> (tempfile::TempDir, Desk) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("out");
    std::fs::create_dir_all(root.join("recordings")).unwrap();
    std::fs::write(d.path().join("rec.webm"), b"video").unwrap();
    std::fs::write(d.path().join("secret.txt"), b"secret").unwrap();
    crate::review::catalog::save_recording(&root, "rec", &d.path().join("rec.webm"), &[(EventKind::Phone, 1.0, 3.5)]);
    std::fs::write(root.join("rec.review.html"), "<html>").unwrap();
    std::fs::write(root.join("notes.txt"), b"x").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(d.path().join("secret.txt"), root.join("leak.review.html")).unwrap();
        std::os::unix::fs::symlink(root.join("rec.review.html"), root.join("alias.review.html")).unwrap();
    }
    let desk = Desk::new(&root, "t0k".into(), "me".into()).unwrap();
    (d, desk)
}

#[test]
fn only_outputs_and_named_recordings_are_served() {
    let (d, desk) = desk_with_files();
    let root = desk.root().to_path_buf();
    assert_eq!(desk.resolve("/"), Target::Index);
    assert_eq!(desk.resolve("/rec.review.html"), Target::File { path: root.join("rec.review.html"), html: true });
    assert_eq!(desk.resolve("/rec.summary.json"), Target::File { path: root.join("rec.summary.json"), html: false });
    assert_eq!(desk.resolve("/media/rec"), Target::Media(d.path().join("rec.webm").canonicalize().unwrap()));
    // another file where the recording was is not served as it
    std::fs::write(d.path().join("rec.webm"), b"other").unwrap();
    assert_eq!(desk.resolve("/media/rec"), Target::NotFound);
    assert!(desk.media_of("rec").unwrap_err().contains("sha256 differs"), "{:?}", desk.media_of("rec"));
    std::fs::remove_file(d.path().join("rec.webm")).unwrap();
    assert!(desk.media_of("rec").unwrap_err().contains("looked for it at"), "{:?}", desk.media_of("rec"));
    std::fs::write(d.path().join("rec.webm"), b"video").unwrap();
    for bad in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/recordings/../../secret.txt",
        "/recordings/%2E%2E/%2E%2E/secret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/notes.txt",
        "/media/nope",
        "/media/../secret.txt",
        "/rec.review.html/..",
        "/%zz",
        "/.\\secret.txt",
        "/missing.review.html",
    ] {
        assert_eq!(desk.resolve(bad), Target::NotFound, "{bad}");
    }
    #[cfg(unix)]
    {
        // a symlink out of DIR is not served, one inside it is
        assert_eq!(desk.resolve("/leak.review.html"), Target::NotFound);
        assert_eq!(desk.resolve("/alias.review.html"), Target::File { path: root.join("rec.review.html"), html: true });
    }
}

#[test]
fn pages_get_the_token_and_the_media_url() {
    let (_d, desk) = desk_with_files();
    let page = crate::review::index::render("<t>", &[]);
    let served = desk.serve_html(&page, Some("rec"));
    assert!(!served.contains(META_EMPTY));
    assert!(served.contains("/media/rec?token=t0k"), "{served}");
    assert!(served.contains("&quot;token&quot;:&quot;t0k&quot;"));
    assert_eq!(page.matches(META_EMPTY).count(), 1);
    // a recording the server cannot find: no media URL, and the page is told why
    let served = desk.serve_html(&page, Some("a b"));
    assert!(!served.contains("/media/a") && served.contains("media_note") && served.contains("no recording &#39;a b&#39;"), "{served}");
}

#[test]
fn the_token_is_kept_owner_only_and_rotated_on_request() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let (t1, from) = token_for(d.path(), false).unwrap();
    assert_eq!(from, TokenFrom::New);
    let file = d.path().join(TOKEN_FILE);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), t1);
    assert_eq!(token_for(d.path(), false).unwrap(), (t1.clone(), TokenFrom::Kept));
    let (t2, from) = token_for(d.path(), true).unwrap();
    assert_eq!(from, TokenFrom::New);
    assert_ne!(t1, t2);
    assert_eq!(token_for(d.path(), false).unwrap().0, t2);
    // readable by others: not trusted, replaced
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (t3, from) = token_for(d.path(), false).unwrap();
    assert!(matches!(from, TokenFrom::Replaced(_)), "{from:?}");
    assert_ne!(t3, t2);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // not a token: replaced
    std::fs::write(&file, "nope").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(token_for(d.path(), false).unwrap().1, TokenFrom::Replaced(_)));
    // nowhere to keep it: a token all the same
    let (t4, from) = token_for(&d.path().join("missing"), false).unwrap();
    assert!(is_token(&t4) && matches!(from, TokenFrom::NotKept(_)), "{from:?}");
    assert!(!d.path().read_dir().unwrap().flatten().any(|e| e.file_name().to_string_lossy().contains(".tmp-")));
}

#[test]
fn query_and_tokens() {
    assert_eq!(query_param(Some("a=1&token=x%20y&b"), "token").as_deref(), Some("x y"));
    assert_eq!(query_param(Some("b"), "token"), None);
    assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    let (t1, t2) = (new_token().unwrap(), new_token().unwrap());
    assert_eq!(t1.len(), 32);
    assert_ne!(t1, t2);
    assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
    assert_eq!(percent_decode("/a%2"), None);
    assert_eq!(percent_decode("/a%zz"), None);
    assert_eq!(percent_decode("/%E2%82%AC+"), Some("/\u{20ac}+".to_string()));
    assert_eq!(percent_decode("/%FF"), None, "not UTF-8");
    assert_eq!(query_param(Some("token=a+b%2B&recording=x%26y"), "recording").as_deref(), Some("x&y"));
    assert_eq!(query_param(Some("token=a+b%2B"), "token").as_deref(), Some("a b+"));
}
