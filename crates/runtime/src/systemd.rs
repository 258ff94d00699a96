//! systemd integration (`Type=notify`): readiness, the watchdog, stopping. Every call is a
//! no-op when the process was not started by systemd (no `NOTIFY_SOCKET`), so the binaries
//! run the same by hand, in tests and under systemd. Shared by `baoming-api` and
//! `baoming-worker`.

use std::time::Duration;

use sd_notify::NotifyState;

fn notify(state: NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

/// Tells systemd the service is ready (call it after migrations and a database round trip).
pub fn ready() {
    notify(NotifyState::Ready);
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    notify(NotifyState::Stopping);
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, when systemd set one for us.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2).filter(|d| !d.is_zero())
}

/// Pings the watchdog (`WATCHDOG=1`) every half of its timeout, for as long as the async
/// runtime runs it; returns at once when no watchdog is set. A wedged runtime stops the pings
/// and systemd restarts the service.
pub async fn watchdog() {
    let Some(every) = watchdog_interval() else { return };
    tracing::info!(every_ms = every.as_millis(), "systemd watchdog enabled");
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        notify(NotifyState::Watchdog);
    }
}
