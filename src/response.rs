//! The answer the host reads: Kubewarden's ValidationResponse, written
//! from the policy's own values.

use serde::Serialize;
use wapc_guest::CallResult;

use crate::evaluation::{Evaluation, Verdict};
use crate::value::Value;

/// The fields of the SDK's `ValidationResponse`, in its order and with its
/// nulls, holding the mutated object as the policy built it.
#[derive(Serialize)]
struct ValidationResponse<'a> {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    mutated_object: Option<&'a Value>,
    audit_annotations: Option<()>,
    warnings: Option<&'a [String]>,
}

/// Whether a verdict accepts, its message and its mutated object.
fn outcome(verdict: &Verdict) -> (bool, Option<String>, Option<&Value>) {
    match verdict {
        Verdict::Accept => (true, None, None),
        Verdict::Mutate(object) => (true, None, Some(object)),
        Verdict::Reject(lines) => (false, Some(lines.join("\n")), None),
    }
}

/// The ValidationResponse of an evaluation, as the host reads it.
pub fn respond(evaluation: Evaluation) -> CallResult {
    let warnings = (!evaluation.warnings.is_empty()).then_some(evaluation.warnings.as_slice());
    let (accepted, message, mutated_object) = outcome(&evaluation.verdict);
    let response = ValidationResponse {
        accepted,
        message,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings,
    };
    Ok(serde_json::to_vec(&response)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    fn sdk_response(
        evaluation: &Evaluation,
    ) -> kubewarden_policy_sdk::response::ValidationResponse {
        let warnings = (!evaluation.warnings.is_empty()).then(|| evaluation.warnings.clone());
        let (accepted, message, object) = outcome(&evaluation.verdict);
        kubewarden_policy_sdk::response::ValidationResponse {
            accepted,
            message,
            code: None,
            mutated_object: object.cloned().map(Into::into),
            audit_annotations: None,
            warnings,
        }
    }

    #[rstest::rstest]
    #[case::an_acceptance(Verdict::Accept, vec![])]
    #[case::an_acceptance_with_warnings(Verdict::Accept, vec!["a".to_string(), "b".to_string()])]
    #[case::a_mutation(
        Verdict::Mutate(json!({"kind": "Pod", "spec": {"containers": [{"name": "app"}]}, "a": 1.5})),
        vec!["converted".to_string()]
    )]
    #[case::a_rejection(Verdict::Reject(vec!["one".to_string(), "two".to_string()]), vec![])]
    fn the_answer_is_written_as_the_sdk_writes_it(
        #[case] verdict: Verdict,
        #[case] warnings: Vec<String>,
    ) {
        let evaluation = Evaluation { verdict, warnings };
        let expected = serde_json::to_vec(&sdk_response(&evaluation)).expect("the SDK writes");
        assert_eq!(
            String::from_utf8(respond(evaluation).expect("an answer")),
            String::from_utf8(expected)
        );
    }
}
