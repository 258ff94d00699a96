//! `docs/domain-rules.md` checked against the identity rules: the document kinds it lists are
//! the ones the code knows, and its worked examples of ID numbers are accepted or refused as it
//! says.

use baoming_domain::identity::{IdKind, IdNumber};
use baoming_domain::person::Gender;
use chrono::NaiveDate;

const DOC: &str = include_str!("../../../docs/domain-rules.md");

fn codes(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).expect("date")
}

#[test]
fn the_document_kinds_are_the_codes_kinds() {
    let table: Vec<&str> = DOC
        .lines()
        .skip_while(|line| !line.starts_with("| kind (`id_kind`)"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .flat_map(|line| codes(line.split('|').nth(1).unwrap_or_default()))
        .collect();
    assert_eq!(table, IdKind::ALL.map(IdKind::as_str), "docs/domain-rules.md's table of kinds");
}

#[test]
fn the_worked_examples_are_what_the_code_says() {
    let mut seen = 0;
    for line in DOC.lines().filter(|line| line.starts_with("- `")) {
        let Some(&number) = codes(line).first() else { continue };
        if number.len() != 18 || !number.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let parsed = IdNumber::parse(IdKind::ResidentId, number, today());
        if line.contains(" is valid") {
            let id = parsed.unwrap_or_else(|e| panic!("{number} is refused ({e}): {line}"));
            let gender = if line.contains("female") { Gender::Female } else { Gender::Male };
            assert_eq!(id.gender(), Some(gender), "{line}");
            if let Some(date) = line.split("born ").nth(1) {
                let date = NaiveDate::parse_from_str(&date[..10], "%Y-%m-%d").expect("a date");
                assert_eq!(id.birth_date(), Some(date), "{line}");
            }
        } else if line.contains(" is refused") {
            assert!(parsed.is_err(), "{number} is accepted: {line}");
        } else {
            panic!("an example says neither valid nor refused: {line}");
        }
        seen += 1;
    }
    assert_eq!(seen, 4, "the four worked examples of the check character");
}
