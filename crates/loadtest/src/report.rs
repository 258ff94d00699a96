//! The report: medians of the runs with min and max, ratios to the hello baseline.

use std::fmt::Write;

use crate::scenarios::{Results, Scenario};
use crate::stats::{Measurement, spread};

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn cell(values: &[f64], decimals: usize) -> String {
    let (median, min, max) = spread(values);
    format!("{median:.decimals$} ({min:.decimals$}–{max:.decimals$})")
}

/// A markdown report of the results.
pub fn markdown(results: &Results, title: &str, notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n");
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    let median_rps = |scenario: Scenario| {
        results
            .runs
            .get(&scenario)
            .map(|ms| spread(&ms.iter().map(Measurement::rps).collect::<Vec<_>>()).0)
    };
    let hello_rps = median_rps(Scenario::Hello);
    let _ = writeln!(
        out,
        "\nMedian of {} runs (min–max). Latencies in ms; RSS is the api's peak during the scenario.\n",
        results.runs.values().map(Vec::len).max().unwrap_or(0)
    );
    let _ = writeln!(
        out,
        "| scenario | requests | req/s | × hello | p50 | p95 | p99 | max | errors (status: count) | api peak RSS MiB | api CPU ms/request |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (scenario, ms_list) in &results.runs {
        let col = |f: &dyn Fn(&Measurement) -> f64| ms_list.iter().map(f).collect::<Vec<f64>>();
        let rps = col(&|m| m.rps());
        let ratio = match hello_rps {
            Some(h) if h > 0.0 && *scenario != Scenario::Hello => {
                format!("{:.1} %", spread(&rps).0 / h * 100.0)
            }
            _ => "—".into(),
        };
        let mut errors: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for m in ms_list {
            for (status, n) in &m.statuses {
                if !status.starts_with('2') {
                    *errors.entry(status.clone()).or_default() += n;
                }
            }
        }
        let errors = if errors.is_empty() {
            "0".to_owned()
        } else {
            errors.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ")
        };
        let rss: Vec<f64> =
            ms_list.iter().filter_map(|m| m.peak_rss_kib).map(|k| k as f64 / 1024.0).collect();
        let cpu: Vec<f64> = ms_list
            .iter()
            .filter_map(|m| m.server_cpu.map(|c| ms(c) / m.requests.max(1) as f64))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            scenario.name(),
            ms_list.first().map_or(0, |m| m.requests),
            cell(&rps, 0),
            ratio,
            cell(&col(&|m| ms(m.percentile(50.0))), 1),
            cell(&col(&|m| ms(m.percentile(95.0))), 1),
            cell(&col(&|m| ms(m.percentile(99.0))), 1),
            cell(&col(&|m| ms(m.percentile(100.0))), 1),
            errors,
            if rss.is_empty() { "—".into() } else { cell(&rss, 1) },
            if cpu.is_empty() { "—".into() } else { cell(&cpu, 2) },
        );
    }
    if let (Some(rush), Some(floor)) =
        (median_rps(Scenario::RushSubmit), median_rps(Scenario::SubmitFloor))
        && floor > 0.0
    {
        let _ = writeln!(
            out,
            "\nrush-submit reaches {:.1} % of the submit floor (the same store call for the same forms in a loop on the same database, no HTTP){}.",
            rush / floor * 100.0,
            hello_rps.map_or_else(String::new, |h| format!(
                " and {:.1} % of hello (the HTTP floor)",
                rush / h * 100.0
            ))
        );
    }
    if let Some((approved, full)) = results.review_ids.first() {
        let _ = writeln!(
            out,
            "\nreview: each run approved {approved} and refused {full} as full (capacity below submissions)."
        );
    }
    match results.pay_notify.first() {
        Some((orders, deliveries)) => {
            let _ = writeln!(
                out,
                "\npay-notify: each run the simulator (in the benchmark's process) paid {orders} orders and delivered each signed, encrypted notification twice ({deliveries} deliveries, at most the run's concurrency of notifications in flight); req/s counts deliveries, latencies are the notify endpoint's answers; every registration paid exactly once, one payment row per order with its amount (checked in the database)."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\npay-notify: not measured (needs the simulators this tool runs: not with --url)."
            );
        }
    }
    out
}
