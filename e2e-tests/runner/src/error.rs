//! The ways a runner command can fail, and the exit code and message of each.

use std::fmt;
use std::io::Write;

/// Exit code when kwctl would refuse the request or the policy rejects the
/// settings (kwctl exits 1 on both), and when `convert` rejects a document.
pub const EXIT_REJECTED: u8 = 1;
/// Exit code for usage errors, unreadable inputs and policy malfunctions.
pub const EXIT_FAILURE: u8 = 2;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Bad command line; the usage text is printed after the message.
    Usage(String),
    /// A request, settings or manifest file that cannot be read or parsed.
    Input(String),
    /// A request file that kwctl refuses to build an AdmissionRequest from
    /// (the message is kwctl's).
    Request(String),
    /// The module cannot be read, compiled or instantiated.
    Module(String),
    /// `validate_settings` answered `valid: false`.
    InvalidSettings(String),
    /// The module trapped (a Rust panic ends up here, as an `unreachable` trap).
    Trap(String),
    /// The module ran past its deadline.
    Timeout,
    /// The module answered something that is not the expected JSON.
    Malformed(String),
    /// The module reported an error through waPC instead of a response.
    Guest(String),
    /// `convert`: documents were rejected (each already reported).
    Rejected { rejected: usize, total: usize },
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Request(_) | Failure::InvalidSettings(_) | Failure::Rejected { .. } => {
                EXIT_REJECTED
            }
            _ => EXIT_FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(msg)
            | Failure::Input(msg)
            | Failure::Request(msg)
            | Failure::Module(msg) => f.write_str(msg),
            // kwctl's wording, with the policy's message as plain text.
            Failure::InvalidSettings(msg) => write!(f, "Provided settings are not valid: {msg}"),
            Failure::Trap(msg) => write!(f, "policy trapped: {msg}"),
            Failure::Timeout => f.write_str("policy timed out"),
            Failure::Malformed(msg) => write!(f, "malformed response from policy: {msg}"),
            Failure::Guest(msg) => write!(f, "policy returned an error: {msg}"),
            Failure::Rejected { rejected, total } => {
                write!(f, "{rejected} of {total} documents rejected")
            }
        }
    }
}

/// The line printed on stderr for a failure: `Error: ` and the message, as
/// kwctl prints every error; usage errors keep their own form.
pub fn error_line(failure: &Failure) -> String {
    match failure {
        Failure::Usage(msg) => msg.clone(),
        other => format!("Error: {other}"),
    }
}

/// Prints `value` as one JSON line on stdout; a closed stdout is an error,
/// not a panic.
pub fn print_json_line(value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut line = serde_json::to_vec(value)
        .map_err(|e| Failure::Malformed(format!("cannot serialize the output: {e}")))?;
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&line)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Input(format!("cannot write to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_read_as_kwctl_prints_them() {
        let failure = Failure::InvalidSettings(
            "unknown setting \"sidecarName\": did you mean \"sidecarNames\"?".to_owned(),
        );
        assert_eq!(
            error_line(&failure),
            "Error: Provided settings are not valid: unknown setting \"sidecarName\": \
             did you mean \"sidecarNames\"?"
        );
        assert_eq!(failure.exit_code(), 1);
    }

    #[test]
    fn multi_line_settings_messages_stay_on_their_lines() {
        let failure = Failure::InvalidSettings("first\nsecond".to_owned());
        assert_eq!(
            error_line(&failure),
            "Error: Provided settings are not valid: first\nsecond"
        );
    }

    #[test]
    fn refused_requests_exit_1_with_kwctls_message() {
        let failure = Failure::Request(
            "cannot build AdmissionRequest object from given input: missing field `userInfo`"
                .to_owned(),
        );
        assert_eq!(
            error_line(&failure),
            "Error: cannot build AdmissionRequest object from given input: missing field `userInfo`"
        );
        assert_eq!(failure.exit_code(), 1);
    }

    #[test]
    fn other_failures_keep_exit_code_2_and_usage_errors_their_own_form() {
        assert_eq!(Failure::Input("x".into()).exit_code(), 2);
        assert_eq!(Failure::Timeout.exit_code(), 2);
        assert_eq!(error_line(&Failure::Timeout), "Error: policy timed out");
        assert_eq!(
            error_line(&Failure::Usage("no command given".into())),
            "no command given"
        );
    }
}
