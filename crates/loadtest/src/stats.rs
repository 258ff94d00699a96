//! Timing and counting requests, and the summary of one scenario run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one request gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status, or `None` for a transport error.
    pub status: Option<u16>,
    /// Time from sending to the whole body received.
    pub latency: Duration,
}

/// The figures of one run of one scenario.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Requests sent.
    pub requests: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Count per status (`"201"`, `"transport"`).
    pub statuses: BTreeMap<String, usize>,
    /// Peak resident memory of the api process during the run, in KiB (when known).
    pub peak_rss_kib: Option<u64>,
    /// CPU time the api process spent during the run (when known).
    pub server_cpu: Option<Duration>,
}

impl Measurement {
    /// Builds the figures from outcomes.
    pub fn new(outcomes: &[Outcome], elapsed: Duration) -> Self {
        let mut latencies: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
        latencies.sort_unstable();
        let mut statuses = BTreeMap::new();
        for o in outcomes {
            let key = o.status.map_or_else(|| "transport".to_owned(), |s| s.to_string());
            *statuses.entry(key).or_insert(0) += 1;
        }
        Measurement {
            requests: outcomes.len(),
            elapsed,
            latencies,
            statuses,
            peak_rss_kib: None,
            server_cpu: None,
        }
    }

    /// Requests per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.requests as f64 / secs } else { 0.0 }
    }

    /// The `p`-th percentile latency (0–100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// Requests answered with a status outside 2xx, or not answered at all.
    pub fn errors(&self) -> usize {
        self.statuses.iter().filter(|(status, _)| !status.starts_with('2')).map(|(_, n)| n).sum()
    }

    /// Requests answered 5xx or not answered.
    pub fn server_errors(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(status, _)| status.starts_with('5') || *status == "transport")
            .map(|(_, n)| n)
            .sum()
    }
}

/// Runs `job(i)` for every `i` in `0..count` with `concurrency` workers; returns each job's
/// result in order and the wall time.
pub async fn drive<T, F, Fut>(count: usize, concurrency: usize, job: F) -> (Vec<T>, Duration)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.clamp(1, count.max(1)))
        .map(|_| {
            let (next, job) = (Arc::clone(&next), Arc::clone(&job));
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break done;
                    }
                    done.push((i, job(i).await));
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        if let Ok(done) = worker.await {
            all.extend(done);
        }
    }
    let elapsed = started.elapsed();
    all.sort_by_key(|(i, _)| *i);
    (all.into_iter().map(|(_, t)| t).collect(), elapsed)
}

/// Median, minimum and maximum of some numbers.
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => (0.0, 0.0, 0.0),
        n => {
            let median =
                if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
            (median, sorted[0], sorted[n - 1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_spread() {
        let outcomes: Vec<Outcome> = (1..=100)
            .map(|ms| Outcome {
                status: Some(if ms == 100 { 503 } else { 200 }),
                latency: Duration::from_millis(ms),
            })
            .collect();
        let m = Measurement::new(&outcomes, Duration::from_secs(2));
        assert_eq!(m.percentile(50.0), Duration::from_millis(50));
        assert_eq!(m.percentile(99.0), Duration::from_millis(99));
        assert_eq!(m.percentile(100.0), Duration::from_millis(100));
        assert_eq!((m.errors(), m.server_errors()), (1, 1));
        assert!((m.rps() - 50.0).abs() < 1e-9);
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(&[4.0, 1.0]), (2.5, 1.0, 4.0));
    }

    #[tokio::test]
    async fn drive_runs_every_job_once_in_order() {
        let (results, _) = drive(1000, 16, |i| async move { i * 2 }).await;
        assert_eq!(results, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }
}
