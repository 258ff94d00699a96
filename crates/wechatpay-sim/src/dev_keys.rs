//! Development and test keys, committed on purpose: **they have no value outside the
//! simulator.** They protect nothing, are registered with no WeChat Pay merchant, and must
//! never be configured for the real WeChat Pay. (The PEM files live in the crate's `keys/`
//! folder, whose README says how they were made.)
//!
//! * The *merchant* pair stands for the merchant's API key (`apiclient_key.pem`): clients sign
//!   requests with [`MERCHANT_PRIVATE_KEY_PEM`], the simulator checks them with
//!   [`MERCHANT_PUBLIC_KEY_PEM`] and expects the serial [`MERCHANT_SERIAL_NO`].
//! * The two *platform* pairs stand for WeChat Pay's own keys (public-key mode, identified by
//!   a `PUB_KEY_ID_…`): the simulator signs responses and notifications with the current one,
//!   clients verify with the public halves. The second one is for key rotation.

/// The simulated merchant's API private key (PKCS#8 PEM): sign requests with it.
pub const MERCHANT_PRIVATE_KEY_PEM: &str = include_str!("../keys/merchant-dev-key.pem");

/// The simulated merchant's API public key (SPKI PEM): the simulator verifies requests with it.
pub const MERCHANT_PUBLIC_KEY_PEM: &str = include_str!("../keys/merchant-dev-pub.pem");

/// The serial number of the simulated merchant API certificate (`serial_no` in
/// `Authorization`), 40 uppercase hexadecimal digits like a real one.
pub const MERCHANT_SERIAL_NO: &str = "17F58A443AF6556B452AC7B27130A4BF5888B71E";

/// The simulated APIv3 key (32 ASCII characters): the AES-256-GCM key of notifications.
pub const APIV3_KEY: &str = "baomingDevOnlyApiV3Key0123456789";

/// The id of the first simulator platform key (current at start by default).
pub const PLATFORM_PUB_KEY_ID_1: &str = "PUB_KEY_ID_0000000000000000000000000000000001";

/// The first simulator platform private key (PKCS#8 PEM).
pub const PLATFORM_PRIVATE_KEY_1_PEM: &str = include_str!("../keys/platform-dev-key-1.pem");

/// The first simulator platform public key (SPKI PEM): verify responses and notifications.
pub const PLATFORM_PUBLIC_KEY_1_PEM: &str = include_str!("../keys/platform-dev-pub-1.pem");

/// The id of the second simulator platform key (the one key rotation switches to).
pub const PLATFORM_PUB_KEY_ID_2: &str = "PUB_KEY_ID_0000000000000000000000000000000002";

/// The second simulator platform private key (PKCS#1 PEM).
pub const PLATFORM_PRIVATE_KEY_2_PEM: &str = include_str!("../keys/platform-dev-key-2.pem");

/// The second simulator platform public key (SPKI PEM).
pub const PLATFORM_PUBLIC_KEY_2_PEM: &str = include_str!("../keys/platform-dev-pub-2.pem");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_well_formed() {
        assert_eq!(APIV3_KEY.len(), 32);
        assert!(APIV3_KEY.is_ascii());
        assert_eq!(MERCHANT_SERIAL_NO.len(), 40);
        assert_eq!(PLATFORM_PUB_KEY_ID_1.len(), PLATFORM_PUB_KEY_ID_2.len());
        for pem in
            [MERCHANT_PRIVATE_KEY_PEM, PLATFORM_PRIVATE_KEY_1_PEM, PLATFORM_PRIVATE_KEY_2_PEM]
        {
            assert!(crate::crypto::load_private_key(pem).is_ok());
        }
        for pem in [MERCHANT_PUBLIC_KEY_PEM, PLATFORM_PUBLIC_KEY_1_PEM, PLATFORM_PUBLIC_KEY_2_PEM] {
            assert!(crate::crypto::load_public_key(pem).is_ok());
        }
    }

    #[test]
    fn public_halves_match_private_keys() {
        for (private, public) in [
            (MERCHANT_PRIVATE_KEY_PEM, MERCHANT_PUBLIC_KEY_PEM),
            (PLATFORM_PRIVATE_KEY_1_PEM, PLATFORM_PUBLIC_KEY_1_PEM),
            (PLATFORM_PRIVATE_KEY_2_PEM, PLATFORM_PUBLIC_KEY_2_PEM),
        ] {
            let key = crate::crypto::load_private_key(private).expect("private key");
            let derived = crate::crypto::public_pem_of(&key).expect("public pem");
            assert_eq!(derived.trim(), public.trim());
        }
    }
}
