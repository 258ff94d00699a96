//! The local simulators' development credentials, committed on purpose: **they have no value
//! outside the simulators.** They protect nothing, are registered with no WeChat Pay merchant, and must
//! never be configured for the real WeChat Pay. (The PEM files live in the crate's `keys/`
//! folder, whose README says how they were made.)
//!
//! * The *merchant* pair stands for the merchant's API key (`apiclient_key.pem`): clients sign
//!   requests with [`MERCHANT_PRIVATE_KEY_PEM`], the simulator checks them with
//!   [`MERCHANT_PUBLIC_KEY_PEM`] and expects the serial [`MERCHANT_SERIAL_NO`].
//! * The two *platform* pairs stand for WeChat Pay's own keys (public-key mode, identified by
//!   a `PUB_KEY_ID_…`): the simulator signs responses and notifications with the current one,
//!   clients verify with the public halves. The second one is for key rotation.
//! * The mini-program's app id and secret the WeChat simulator accepts in dev mode.
//!
//! A crate of its own (no code, no dependencies), so a process that only talks to the
//! simulators (the worker in dev mode) carries the keys without the simulators, and a
//! production build carries neither.

#![warn(missing_docs)]

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

/// The simulated merchant id (WeChat Pay's documentation example).
pub const MCHID: &str = "1900000109";

/// The mini-program app id the WeChat simulator accepts in dev mode.
pub const APPID: &str = "wxdevbaoming0000";

/// The app secret the WeChat simulator accepts in dev mode.
pub const APP_SECRET: &str = "dev-secret-not-for-production";
