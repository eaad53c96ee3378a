//! Command-line parsing. The `run` flags follow kwctl's, so the same tests
//! can drive either binary.

use std::path::PathBuf;
use std::time::Duration;

use crate::access::ContextAwareArgs;
use crate::engine::Limits;
use crate::error::Failure;
use crate::input::SettingsSource;

pub const USAGE: &str = "\
usage:
  log-sidecar-runner run --request-path FILE [SETTINGS] [CONTEXT] [LIMITS] [--report-memory] POLICY.wasm
  log-sidecar-runner run --payload-path FILE [CONTEXT] [LIMITS] [--report-memory] POLICY.wasm
  log-sidecar-runner convert [--policy POLICY.wasm] [SETTINGS] [CONTEXT] [LIMITS] FILE...
  log-sidecar-runner bench --request-path FILE [SETTINGS] [CONTEXT] [LIMITS] [--warm-up N]
                           [--iterations N] [--floor FLOOR.wasm] POLICY.wasm

  run       evaluate one AdmissionRequest or AdmissionReview (JSON or YAML; `-` for stdin)
            and print the AdmissionResponse as one JSON line, like `kwctl run`;
            --payload-path sends the file's bytes as they are as the `validate` payload
            (request and settings, or anything else, to test bad input)
  convert   apply the policy to Kubernetes manifests (multi-document YAML; `-` for stdin)
            and print them, mutated where the policy mutates them (policy default: policy.wasm)
  bench     time repeated evaluations of one request; print one JSON line of statistics
            (microseconds), with the same figures for FLOOR.wasm when given

SETTINGS:  --settings-json JSON | --settings-path FILE (.json, .yaml or .yml)
CONTEXT:   --allow-context-aware   grant the Kubernetes resources of the module's
                                   contextAwareResources, as kwctl does
           --replay-host-capabilities-interactions FILE   answer Kubernetes host calls
                                   from a kwctl session file (replayed afresh for every
                                   evaluation of bench and every document of convert)
           --metadata-path FILE    policy-metadata.yml whose contextAwareResources stand in
                                   for those of a policy module that is not annotated
LIMITS:    --timeout-ms N   deadline of each policy call, 0 for none (default 2000)
           --max-memory SIZE   cap on the module's linear memory, bytes or with a
                               Ki/Mi/Gi suffix, e.g. 64Mi (default: no cap)
bench:     --warm-up N (default 10), --iterations N (default 100)

exit codes: 0 done (run: whatever the policy decided), 1 a request kwctl refuses (run,
bench), settings rejected (run, convert, bench) or a document rejected (convert), 2 usage
error, unreadable input, or a policy that traps, times out or answers malformed data
environment: RUNNER_LOG=1 prints the policy's log events on stderr";

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(2000);
const DEFAULT_WARM_UP: usize = 10;
const DEFAULT_ITERATIONS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Run(RunArgs),
    Convert(ConvertArgs),
    Bench(BenchArgs),
}

/// What `run` evaluates.
#[derive(Debug, Clone, PartialEq)]
pub enum RunInput {
    /// An AdmissionRequest (or AdmissionReview) file, wrapped with the settings.
    Request(String),
    /// A raw `validate` payload file, sent byte for byte.
    Payload(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunArgs {
    pub context: ContextAwareArgs,
    pub input: RunInput,
    pub policy: PathBuf,
    pub settings: SettingsSource,
    pub limits: Limits,
    pub report_memory: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConvertArgs {
    pub context: ContextAwareArgs,
    pub policy: PathBuf,
    pub inputs: Vec<String>,
    pub settings: SettingsSource,
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchArgs {
    pub context: ContextAwareArgs,
    pub request_path: String,
    pub policy: PathBuf,
    pub floor: Option<PathBuf>,
    pub settings: SettingsSource,
    pub limits: Limits,
    pub warm_up: usize,
    pub iterations: usize,
}

/// Options shared by the subcommands, and the positional arguments.
#[derive(Default)]
struct Parsed {
    positional: Vec<String>,
    request_path: Option<String>,
    payload_path: Option<String>,
    settings_json: Option<String>,
    settings_path: Option<String>,
    timeout_ms: Option<u64>,
    max_memory: Option<usize>,
    report_memory: bool,
    allow_context_aware: bool,
    replay: Option<String>,
    metadata_path: Option<String>,
    policy: Option<String>,
    floor: Option<String>,
    warm_up: Option<usize>,
    iterations: Option<usize>,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

pub fn parse(args: &[String]) -> Result<Command, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage("no command given"));
    };
    let allowed: &[&str] = match command.as_str() {
        "help" | "--help" | "-h" => return Ok(Command::Help),
        "run" => &["request-path", "payload-path", "report-memory"],
        "convert" => &["policy"],
        "bench" => &["request-path", "floor", "warm-up", "iterations"],
        other => return Err(usage(format!("unknown command {other:?}"))),
    };
    let parsed = parse_options(rest, allowed)?;
    let settings = match (parsed.settings_json.clone(), parsed.settings_path.clone()) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "--settings-json and --settings-path cannot be used together",
            ));
        }
        (Some(json), None) => SettingsSource::Json(json),
        (None, Some(path)) => SettingsSource::Path(path),
        (None, None) => SettingsSource::Empty,
    };
    let limits = Limits {
        timeout: match parsed.timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(0) => Duration::MAX,
            Some(ms) => Duration::from_millis(ms),
        },
        max_memory: parsed.max_memory,
    };
    let context = ContextAwareArgs {
        allow: parsed.allow_context_aware,
        replay: parsed.replay.clone(),
        metadata_path: parsed.metadata_path.clone(),
    };
    match command.as_str() {
        "run" => Ok(Command::Run(RunArgs {
            context,
            input: match (parsed.request_path.clone(), parsed.payload_path.clone()) {
                (Some(_), Some(_)) => {
                    return Err(usage(
                        "--request-path and --payload-path cannot be used together",
                    ));
                }
                (None, Some(_)) if settings != SettingsSource::Empty => {
                    return Err(usage(
                        "a --payload-path payload carries its own settings: \
                         drop --settings-json/--settings-path",
                    ));
                }
                (None, Some(path)) => RunInput::Payload(path),
                (request_path, None) => {
                    RunInput::Request(required(request_path, "--request-path")?)
                }
            },
            policy: single_policy(&parsed.positional)?,
            settings,
            limits,
            report_memory: parsed.report_memory,
        })),
        "bench" => {
            let iterations = parsed.iterations.unwrap_or(DEFAULT_ITERATIONS);
            if iterations == 0 {
                return Err(usage("--iterations must be at least 1"));
            }
            Ok(Command::Bench(BenchArgs {
                context,
                request_path: required(parsed.request_path.clone(), "--request-path")?,
                policy: single_policy(&parsed.positional)?,
                floor: parsed.floor.map(PathBuf::from),
                settings,
                limits,
                warm_up: parsed.warm_up.unwrap_or(DEFAULT_WARM_UP),
                iterations,
            }))
        }
        _ => {
            if parsed.positional.is_empty() {
                return Err(usage(
                    "convert needs at least one manifest file (or - for stdin)",
                ));
            }
            Ok(Command::Convert(ConvertArgs {
                context,
                policy: policy_path(parsed.policy.as_deref().unwrap_or("policy.wasm")),
                inputs: parsed.positional,
                settings,
                limits,
            }))
        }
    }
}

fn parse_options(args: &[String], allowed: &[&str]) -> Result<Parsed, Failure> {
    let mut parsed = Parsed::default();
    let mut args = args.iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done || arg == "-" || !arg.starts_with('-') {
            parsed.positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        let (name, inline_value) = match arg.trim_start_matches('-').split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.trim_start_matches('-'), None),
        };
        let common = [
            "settings-json",
            "settings-path",
            "timeout-ms",
            "max-memory",
            "execution-mode",
            "allow-context-aware",
            "replay-host-capabilities-interactions",
            "metadata-path",
        ];
        if !arg.starts_with("--") || !(common.contains(&name) || allowed.contains(&name)) {
            return Err(usage(format!("unknown option {arg}")));
        }
        if name == "report-memory" || name == "allow-context-aware" {
            if inline_value.is_some() {
                return Err(usage(format!("--{name} takes no value")));
            }
            if name == "report-memory" {
                parsed.report_memory = true;
            } else {
                parsed.allow_context_aware = true;
            }
            continue;
        }
        let value = match inline_value {
            Some(value) => value,
            None => args
                .next()
                .cloned()
                .ok_or_else(|| usage(format!("--{name} needs a value")))?,
        };
        match name {
            "request-path" => parsed.request_path = Some(value),
            "payload-path" => parsed.payload_path = Some(value),
            "settings-json" => parsed.settings_json = Some(value),
            "settings-path" => parsed.settings_path = Some(value),
            "timeout-ms" => parsed.timeout_ms = Some(number(name, &value)?),
            "max-memory" => parsed.max_memory = Some(size(&value)?),
            "policy" => parsed.policy = Some(value),
            "floor" => parsed.floor = Some(value),
            "warm-up" => parsed.warm_up = Some(number(name, &value)?),
            "iterations" => parsed.iterations = Some(number(name, &value)?),
            "replay-host-capabilities-interactions" => parsed.replay = Some(value),
            "metadata-path" => parsed.metadata_path = Some(value),
            // Accepted so kwctl command lines work; waPC is the only mode here.
            _ => {
                if value != "kubewarden-wapc" {
                    return Err(usage(format!(
                        "only the kubewarden-wapc execution mode is supported, not {value:?}"
                    )));
                }
            }
        }
    }
    Ok(parsed)
}

fn required(value: Option<String>, flag: &str) -> Result<String, Failure> {
    value.ok_or_else(|| usage(format!("{flag} is required")))
}

fn single_policy(positional: &[String]) -> Result<PathBuf, Failure> {
    match positional {
        [policy] => Ok(policy_path(policy)),
        [] => Err(usage("the policy module path is missing")),
        _ => Err(usage(format!(
            "expected one policy module, got {positional:?}"
        ))),
    }
}

/// kwctl takes `file://` URIs as well as paths.
fn policy_path(arg: &str) -> PathBuf {
    PathBuf::from(arg.strip_prefix("file://").unwrap_or(arg))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, Failure> {
    value
        .parse()
        .map_err(|_| usage(format!("--{name} needs a whole number, not {value:?}")))
}

/// Bytes, optionally with a binary suffix: `65536`, `512Ki`, `64Mi`, `1GiB`.
pub fn size(value: &str) -> Result<usize, Failure> {
    let trimmed = value.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(digits_end);
    let multiplier: usize = match suffix.trim_end_matches('B') {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(usage(format!("cannot read memory size {value:?}"))),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| usage(format!("cannot read memory size {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn run_takes_kwctl_flags() {
        let cmd = parse(&args(
            "run --request-path req.json --settings-json {} --report-memory file://p.wasm",
        ))
        .unwrap();
        assert_eq!(
            cmd,
            Command::Run(RunArgs {
                context: ContextAwareArgs::default(),
                input: RunInput::Request("req.json".into()),
                policy: "p.wasm".into(),
                settings: SettingsSource::Json("{}".into()),
                limits: Limits {
                    timeout: DEFAULT_TIMEOUT,
                    max_memory: None
                },
                report_memory: true,
            })
        );
    }

    #[test]
    fn values_may_follow_an_equals_sign() {
        let Command::Run(run) = parse(&args(
            "run --request-path=- --settings-path=s.yaml --timeout-ms=0 --max-memory=64Mi p.wasm",
        ))
        .unwrap() else {
            panic!("not run");
        };
        assert_eq!(run.input, RunInput::Request("-".into()));
        assert_eq!(run.settings, SettingsSource::Path("s.yaml".into()));
        assert_eq!(run.limits.timeout, Duration::MAX);
        assert_eq!(run.limits.max_memory, Some(64 << 20));
    }

    #[test]
    fn run_takes_a_raw_payload_without_settings() {
        let Command::Run(run) =
            parse(&args("run --payload-path bad.bin --report-memory p.wasm")).unwrap()
        else {
            panic!("not run");
        };
        assert_eq!(run.input, RunInput::Payload("bad.bin".into()));
        assert!(run.report_memory);
        for line in [
            "run --payload-path x --request-path r.json p.wasm",
            "run --payload-path x --settings-json {} p.wasm",
            "bench --payload-path x p.wasm",
        ] {
            assert!(
                matches!(parse(&args(line)), Err(Failure::Usage(_))),
                "{line:?} should be a usage error"
            );
        }
    }

    #[test]
    fn usage_errors() {
        for line in [
            "",
            "frobnicate",
            "run p.wasm",
            "run --request-path r.json",
            "run --request-path r.json a.wasm b.wasm",
            "run --request-path r.json --settings-json {} --settings-path s.yaml p.wasm",
            "run --request-path r.json --floor f.wasm p.wasm",
            "run --request-path",
            "convert",
            "bench --request-path r.json --iterations 0 p.wasm",
            "bench --request-path r.json --warm-up x p.wasm",
            "run --request-path r.json --execution-mode opa p.wasm",
        ] {
            assert!(
                matches!(parse(&args(line)), Err(Failure::Usage(_))),
                "{line:?} should be a usage error"
            );
        }
    }

    #[test]
    fn convert_defaults_to_policy_wasm_and_takes_stdin() {
        let Command::Convert(convert) = parse(&args("convert - b.yaml")).unwrap() else {
            panic!("not convert");
        };
        assert_eq!(convert.policy, PathBuf::from("policy.wasm"));
        assert_eq!(convert.inputs, vec!["-", "b.yaml"]);
    }

    #[test]
    fn bench_options() {
        let Command::Bench(bench) = parse(&args(
            "bench --request-path r.json --warm-up 3 --iterations 7 --floor f.wasm p.wasm",
        ))
        .unwrap() else {
            panic!("not bench");
        };
        assert_eq!((bench.warm_up, bench.iterations), (3, 7));
        assert_eq!(bench.floor, Some(PathBuf::from("f.wasm")));
    }

    #[test]
    fn context_aware_flags_for_every_command() {
        let expected = ContextAwareArgs {
            allow: true,
            replay: Some("session.yml".into()),
            metadata_path: Some("policy-metadata.yml".into()),
        };
        let flags = "--allow-context-aware --replay-host-capabilities-interactions session.yml \
                     --metadata-path=policy-metadata.yml";
        let Command::Run(run) =
            parse(&args(&format!("run --request-path r.json {flags} p.wasm"))).unwrap()
        else {
            panic!("not run");
        };
        assert_eq!(run.context, expected);
        let Command::Bench(bench) = parse(&args(&format!(
            "bench --request-path r.json {flags} --floor f.wasm p.wasm"
        )))
        .unwrap() else {
            panic!("not bench");
        };
        assert_eq!(bench.context, expected);
        let Command::Convert(convert) = parse(&args(&format!("convert {flags} a.yaml"))).unwrap()
        else {
            panic!("not convert");
        };
        assert_eq!(convert.context, expected);
        assert_eq!(convert.inputs, vec!["a.yaml"]);
        for line in [
            "run --request-path r.json --allow-context-aware=yes p.wasm",
            "run --request-path r.json --replay-host-capabilities-interactions",
            "run --request-path r.json --record-host-capabilities-interactions s.yml p.wasm",
        ] {
            assert!(
                matches!(parse(&args(line)), Err(Failure::Usage(_))),
                "{line:?} should be a usage error"
            );
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(size("1024").unwrap(), 1024);
        assert_eq!(size("2Ki").unwrap(), 2048);
        assert_eq!(size("64MiB").unwrap(), 64 << 20);
        assert!(size("64MB").is_err());
        assert!(size("Mi").is_err());
    }
}
