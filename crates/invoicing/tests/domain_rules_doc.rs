//! `docs/domain-rules.md` checked against the invoicing rules: its example credit codes are
//! accepted without a warning, and the same codes with the check character changed are
//! refused; the remark limit and the default invoice line are the code's.

use baoming_invoicing::{ItemName, REMARK_MAX_CHARS, TaxCode, TaxId, TaxIdError};

const DOC: &str = include_str!("../../../docs/domain-rules.md");

/// The text of the section under `heading`, up to the next `## ` heading.
fn section(heading: &str) -> &'static str {
    let start = DOC.find(heading).unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &DOC[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn the_example_credit_codes_are_valid_and_their_check_character_matters() {
    let text = section("## The buyer's tax ID");
    let valid = text.split("Valid:").nth(1).expect("a list of valid codes");
    let codes: Vec<&str> =
        valid.split('`').skip(1).step_by(2).take_while(|code| code.len() == 18).collect();
    assert_eq!(codes.len(), 4, "{codes:?}");
    for code in codes {
        let parsed = TaxId::parse(code).unwrap_or_else(|e| panic!("{code} refused: {e}"));
        assert_eq!(parsed.warning, None, "{code}");
        let (body, check) = code.split_at(17);
        let other = if check == "0" { "1" } else { "0" };
        assert_eq!(
            TaxId::parse(&format!("{body}{other}")).map(|p| p.id),
            Err(TaxIdError::UsccCheckMismatch),
            "{code} with another check character"
        );
    }
}

#[test]
fn the_documented_limits_and_defaults_are_the_codes() {
    let text = section("## Invoice titles and invoices").split_whitespace().collect::<Vec<_>>();
    let text = text.join(" ");
    assert!(text.contains(&format!("at most {REMARK_MAX_CHARS} characters")), "remark limit");
    assert!(text.contains(&format!("`{}`", ItemName::DEFAULT)), "item name");
    assert!(text.contains(&format!("`{}`", TaxCode::DEFAULT)), "tax code");
}
