//! Small character helpers shared by the modules of this crate.

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E, e.g. `１`, `Ａ`, `（`) to its ASCII
/// counterpart and the ideographic space (U+3000) to a plain space; other characters are kept.
pub(crate) fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Format characters that render as nothing: soft hyphen, zero-width and bidi controls, BOM.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}')
}

/// Control characters (including tab and newline) and invisible format characters: none of
/// them belongs in a one-line field printed on an invoice.
pub(crate) fn is_control_or_invisible(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// A comparison key for names and codes that people type in different ways: full-width ASCII
/// folded (`（` → `(`, `Ａ` → `A`), whitespace, control and invisible characters dropped, ASCII
/// letters lower-cased. `"腾讯科技（深圳） 有限公司"` and `"腾讯科技(深圳)有限公司"` get the
/// same key.
pub(crate) fn comparison_key(s: &str) -> String {
    s.chars()
        .map(fold_fullwidth)
        .filter(|c| !(c.is_whitespace() || is_control_or_invisible(*c)))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The number of characters (Unicode scalar values, not bytes).
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The first `n` characters of `s` (all of `s` if it is shorter).
pub(crate) fn take_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((byte, _)) => s.get(..byte).unwrap_or(s),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_fullwidth_and_ideographic_space() {
        let folded: String = "９１Ａｂ（）－＋\u{3000}中".chars().map(fold_fullwidth).collect();
        assert_eq!(folded, "91Ab()-+ 中");
    }

    #[test]
    fn takes_chars_not_bytes() {
        assert_eq!(take_chars("张三李四", 2), "张三");
        assert_eq!(take_chars("张三", 5), "张三");
        assert_eq!(take_chars("", 0), "");
        assert_eq!(char_len("张三ab"), 4);
    }

    #[test]
    fn comparison_keys() {
        assert_eq!(
            comparison_key(" 腾讯科技（深圳）\u{3000}有限公司 "),
            comparison_key("腾讯科技(深圳)有限公司")
        );
        assert_eq!(comparison_key("ABC Co.\u{200B} Ltd"), "abcco.ltd");
        assert_eq!(comparison_key("９１３５０１００ｍ"), "91350100m");
        assert_ne!(comparison_key("某某公司"), comparison_key("某某有限公司"));
    }

    #[test]
    fn control_and_invisible() {
        assert!(is_control_or_invisible('\n'));
        assert!(is_control_or_invisible('\u{200B}'));
        assert!(!is_control_or_invisible('张'));
        assert!(!is_control_or_invisible(' '));
    }
}
