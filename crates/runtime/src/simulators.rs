//! The local simulators of dev mode (the `simulators` feature): the WeChat mini-program API
//! and WeChat Pay, over real HTTP on loopback, with their published development keys
//! ([`crate::dev`]).

use crate::config::Settings;

/// The local WeChat simulator (dev mode).
pub use baoming_wechat_sim::Simulator as WechatSimulator;
/// The local WeChat Pay simulator (dev mode).
pub use baoming_wechatpay_sim::Simulator as PaySimulator;

/// Starts the local WeChat simulator at `wechat.simulator_listen` (it lives as long as the
/// value).
pub fn start_wechat(settings: &Settings) -> std::io::Result<WechatSimulator> {
    let sim = baoming_wechat_sim::start_in_background(
        settings.wechat_simulator_listen,
        baoming_wechat_sim::SimConfig {
            appid: settings.wechat_appid.clone(),
            secret: settings.wechat_secret.clone(),
        },
    )?;
    tracing::info!(url = %sim.base_url(), "local WeChat simulator started (dev mode)");
    Ok(sim)
}

/// Starts the local WeChat Pay simulator at `wechatpay.simulator_listen`.
pub fn start_pay(settings: &Settings) -> std::io::Result<PaySimulator> {
    let config = baoming_wechatpay_sim::SimConfig {
        time_scale: settings.pay_simulator_time_scale,
        ..baoming_wechatpay_sim::SimConfig::dev(settings.pay.mchid(), &settings.wechat_appid)
    };
    let sim = baoming_wechatpay_sim::start_in_background_on(config, settings.pay_simulator_listen)?;
    tracing::info!(url = %sim.base_url(), "local WeChat Pay simulator started (dev mode)");
    Ok(sim)
}
