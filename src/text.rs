//! Text from outside proctor (file names, candidate names) made safe to
//! show: the invisible controls that reorder or hide what follows them are
//! shown as their code points, so a file named `exam<U+202E>4pm.exe` reads as
//! it is in the PDF, the review page and the index, not reversed.

/// Whether `c` is a bidirectional formatting control or another invisible
/// character that changes how the text around it is read.
fn is_hidden_control(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{200B}' | '\u{2060}' | '\u{FEFF}')
        || (c.is_control() && c != '\n' && c != '\t')
}

/// `s` with each bidirectional or invisible control written as `<U+XXXX>`.
pub fn visible(s: &str) -> String {
    if !s.chars().any(is_hidden_control) {
        return s.to_string();
    }
    s.chars().map(|c| if is_hidden_control(c) { format!("<U+{:04X}>", c as u32) } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_controls_are_shown_not_applied() {
        assert_eq!(visible("exam\u{202E}fdp.exe"), "exam<U+202E>fdp.exe");
        assert_eq!(visible("a\u{2067}b\u{2069}\u{200B}"), "a<U+2067>b<U+2069><U+200B>");
        assert_eq!(visible("Zoë 山田 🙂"), "Zoë 山田 🙂");
        assert_eq!(visible("tab\tline\u{7}"), "tab\tline<U+0007>");
    }
}
