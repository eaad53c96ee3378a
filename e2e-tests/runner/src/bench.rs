//! `bench`: timing of repeated `validate` calls on one instance.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::BenchArgs;
use crate::engine::Runtime;
use crate::error::{Failure, print_json_line};
use crate::host::Host;
use crate::input::{load_request, load_settings};
use crate::policy::{HostSetup, Policy, Role};

/// Statistics of one module, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub median_us: f64,
    pub min_us: f64,
    pub max_us: f64,
    pub p10_us: f64,
    pub p90_us: f64,
    pub mean_us: f64,
}

#[derive(Debug, Serialize)]
struct ModuleReport {
    module: String,
    #[serde(flatten)]
    stats: Stats,
    linear_memory_bytes: usize,
    /// Kubernetes host calls made by one evaluation (the checked one).
    kubernetes_calls: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    warm_up: usize,
    iterations: usize,
    policy: ModuleReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    floor: Option<ModuleReport>,
    /// policy median / floor median.
    #[serde(skip_serializing_if = "Option::is_none")]
    median_ratio: Option<f64>,
}

struct Subject {
    path: String,
    policy: Policy,
    host: Arc<Host>,
    samples: Vec<Duration>,
    kubernetes_calls: usize,
}

impl Subject {
    fn load(
        runtime: &Runtime,
        path: &Path,
        args: &BenchArgs,
        setup: &HostSetup,
        role: Role,
    ) -> Result<Self, Failure> {
        let (policy, host) = Policy::load(runtime, path, args.limits, setup, role)?;
        Ok(Self {
            path: path.display().to_string(),
            policy,
            host,
            samples: Vec::with_capacity(args.iterations),
            kubernetes_calls: 0,
        })
    }

    /// One `validate` call. kwctl's replay consumes each exchange once, so
    /// the session starts over for every evaluation: each one sees the
    /// recorded cluster, as every request does in a policy-server.
    fn call(&self, payload: &[u8]) -> Result<(), Failure> {
        self.host.rewind();
        self.policy.call("validate", payload).map(drop)
    }

    /// The first evaluation, checked; kwctl's warning when it left
    /// exchanges of the session unused.
    fn check(&mut self, payload: &[u8]) -> Result<(), Failure> {
        self.host.rewind();
        self.policy.validate_raw(payload)?;
        self.kubernetes_calls = self.host.kubernetes_calls();
        if let Some(warning) = self.host.leftover_warning() {
            eprintln!("{}: warning: {warning}", self.path);
        }
        Ok(())
    }

    fn time(&mut self, payload: &[u8]) -> Result<(), Failure> {
        self.host.rewind();
        let start = Instant::now();
        self.policy.call("validate", payload)?;
        self.samples.push(start.elapsed());
        Ok(())
    }

    fn report(&self) -> ModuleReport {
        ModuleReport {
            module: self.path.clone(),
            stats: stats(&self.samples),
            linear_memory_bytes: self.policy.linear_memory_bytes(),
            kubernetes_calls: self.kubernetes_calls,
        }
    }
}

/// The floor gets the same `validate` payload but no `validate_settings`
/// call: it is a baseline module, and the settings are not meant for it.
pub fn bench(args: &BenchArgs) -> Result<(), Failure> {
    let request = load_request(&args.request_path)?;
    let settings = load_settings(&args.settings)?;
    let setup = HostSetup::load(&args.context)?;
    let runtime = Runtime::new().map_err(Failure::Module)?;

    let mut subject = Subject::load(&runtime, &args.policy, args, &setup, Role::Policy)?;
    subject.host.rewind();
    subject.policy.validate_settings(&settings)?;
    let mut floor = match &args.floor {
        Some(path) => Some(Subject::load(
            &runtime,
            path,
            args,
            &setup,
            Role::Floor(path),
        )?),
        None => None,
    };

    let payload = Policy::validate_payload(&request, &settings)?;
    // One checked evaluation each first: a module that answers garbage
    // should fail the benchmark, not be timed.
    subject.check(&payload)?;
    if let Some(floor) = floor.as_mut() {
        floor.check(&payload)?;
    }
    for _ in 0..args.warm_up {
        subject.call(&payload)?;
        if let Some(floor) = &floor {
            floor.call(&payload)?;
        }
    }
    // Interleaved, so drift in machine load hits both modules alike.
    for _ in 0..args.iterations {
        subject.time(&payload)?;
        if let Some(floor) = floor.as_mut() {
            floor.time(&payload)?;
        }
    }

    let policy = subject.report();
    let floor = floor.as_ref().map(Subject::report);
    let median_ratio = floor
        .as_ref()
        .filter(|f| f.stats.median_us > 0.0)
        .map(|f| round(policy.stats.median_us / f.stats.median_us, 1000.0));
    let report = Report {
        warm_up: args.warm_up,
        iterations: args.iterations,
        policy,
        floor,
        median_ratio,
    };
    print_json_line(&report)?;
    Ok(())
}

fn round(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

fn micros(duration: Duration) -> f64 {
    round(duration.as_secs_f64() * 1e6, 10.0)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

pub fn stats(samples: &[Duration]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    };
    let total: Duration = sorted.iter().sum();
    let mean = u32::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .map_or(Duration::ZERO, |n| total / n);
    Stats {
        median_us: micros(median),
        min_us: micros(sorted.first().copied().unwrap_or_default()),
        max_us: micros(sorted.last().copied().unwrap_or_default()),
        p10_us: micros(percentile(&sorted, 10)),
        p90_us: micros(percentile(&sorted, 90)),
        mean_us: micros(mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_micros(v)).collect()
    }

    #[test]
    fn statistics_of_odd_and_even_counts() {
        let s = stats(&us(&[5, 1, 3]));
        assert_eq!(
            (s.median_us, s.min_us, s.max_us, s.mean_us),
            (3.0, 1.0, 5.0, 3.0)
        );
        let s = stats(&us(&[4, 1, 3, 2]));
        assert_eq!(s.median_us, 2.5);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples = us(&(1..=100).collect::<Vec<_>>());
        let s = stats(&samples);
        assert_eq!((s.p10_us, s.p90_us), (10.0, 90.0));
        let s = stats(&us(&[7]));
        assert_eq!((s.p10_us, s.p90_us, s.median_us), (7.0, 7.0, 7.0));
    }

    #[test]
    fn no_samples_give_zeros() {
        assert_eq!(stats(&[]).median_us, 0.0);
    }
}
