//! The reference a participant writes on an employer bank transfer (转账备注), so finance can
//! match the money on the bank statement to registrations.

use std::fmt;

use serde::Serialize;

use crate::ids::{RegistrationId, TypedId};

/// Crockford's base-32 alphabet: no I, L, O or U, so a reference survives being copied by hand.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "BM";
const CODE_CHARS: usize = 10;

/// A transfer reference such as `BM7K3QH9X2TA`: `BM` and ten base-32 characters taken from the
/// random bits of the registration's id, so it is fixed for the registration and needs no
/// counter. Printed in two groups (`BM-7K3QH-9X2TA`) for reading aloud.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct TransferReference(String);

/// The text is not a transfer reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("转账备注码格式不正确（应为 BM 加 10 位字母数字）")]
pub struct TransferReferenceError;

impl TransferReference {
    /// The reference of a registration.
    pub fn for_registration(id: RegistrationId) -> Self {
        // The last 50 bits of a UUID v7 are random.
        let bits = id.as_uuid().as_u128() & ((1u128 << 50) - 1);
        let code: String = (0..CODE_CHARS)
            .rev()
            .map(|i| ALPHABET[((bits >> (5 * i)) & 31) as usize] as char)
            .collect();
        Self(format!("{PREFIX}{code}"))
    }

    /// Reads a reference as a person may have typed it: any case, with spaces or dashes, with
    /// O for 0 and I or L for 1.
    pub fn parse(text: &str) -> Result<Self, TransferReferenceError> {
        let mut cleaned: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !cleaned.starts_with(PREFIX) {
            return Err(TransferReferenceError);
        }
        let code: String = cleaned
            .split_off(PREFIX.len())
            .chars()
            .map(|c| match c {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect();
        if code.len() != CODE_CHARS || !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(TransferReferenceError);
        }
        Ok(Self(format!("{PREFIX}{code}")))
    }

    /// The reference without separators (as stored and matched).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference in groups, for people: `BM-7K3QH-9X2TA`.
    pub fn display(&self) -> String {
        let code = &self.0[PREFIX.len()..];
        format!("{PREFIX}-{}-{}", &code[..5], &code[5..])
    }
}

impl fmt::Display for TransferReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<TransferReference> for String {
    fn from(reference: TransferReference) -> String {
        reference.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn registration(text: &str) -> RegistrationId {
        RegistrationId::parse(text).expect("v7 id")
    }

    #[test]
    fn worked_example() {
        let id = registration("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5d");
        // The low 50 bits of …9b1f-6f1e2a3b4c5d are 0x3_6f1e_2a3b_4c5d.
        let reference = TransferReference::for_registration(id);
        assert_eq!(reference.as_str(), "BMVF3RN3PK2X");
        assert_eq!(reference.display(), "BM-VF3RN-3PK2X");
        assert_eq!(TransferReference::parse(&reference.display()), Ok(reference.clone()));
        let sloppy = reference.display().to_lowercase().replace('-', " ");
        assert_eq!(TransferReference::parse(&sloppy), Ok(reference));
    }

    #[test]
    fn lookalike_letters_are_read_as_digits() {
        assert_eq!(
            TransferReference::parse("bm-o1ilo-00000").map(|r| r.as_str().to_owned()),
            Ok("BM0111000000".to_owned())
        );
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        for text in ["", "BM", "BM123", "XX0000000000", "BM00000000000", "BM000000000U"] {
            assert_eq!(TransferReference::parse(text), Err(TransferReferenceError), "{text}");
        }
    }

    proptest! {
        #[test]
        fn every_registration_has_a_reference_that_reads_back(random in any::<u128>()) {
            let uuid = uuid::Builder::from_unix_timestamp_millis(1_700_000_000_000, &random.to_le_bytes()[..10].try_into().expect("10 bytes")).into_uuid();
            let id = RegistrationId::from_uuid(uuid).expect("v7");
            let reference = TransferReference::for_registration(id);
            prop_assert_eq!(TransferReference::parse(reference.as_str()), Ok(reference.clone()));
            prop_assert_eq!(TransferReference::parse(&reference.display()), Ok(reference));
        }
    }
}
