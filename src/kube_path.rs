//! kubectl-style paths of the values a walk over an object reaches:
//! `spec.containers[0].restartPolicy`, `metadata.annotations[a.b/c]`.
//!
//! A walk pushes and pops steps as it goes and renders a path only for what
//! it reports: most values it reaches are never reported, and formatting a
//! path for each of them used to cost more than the checks themselves.

use std::fmt::Write as _;

/// One step down from a value.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A field of an object: `.name`.
    Field(&'a str),
    /// An element of a list: `[3]`.
    Index(usize),
    /// A key of a free-form map: `[a.b/c]`.
    MapKey(&'a str),
}

/// The steps from a starting value whose own path is `prefix`.
#[derive(Debug)]
pub struct Trail<'a> {
    prefix: &'a str,
    steps: Vec<Step<'a>>,
}

impl<'a> Trail<'a> {
    pub fn new(prefix: &'a str) -> Self {
        Trail {
            prefix,
            steps: Vec::new(),
        }
    }

    pub fn push(&mut self, step: Step<'a>) {
        self.steps.push(step);
    }

    pub fn pop(&mut self) {
        self.steps.pop();
    }

    /// The path of the value the trail ends at.
    pub fn render(&self) -> String {
        let mut path = self.prefix.to_string();
        for step in &self.steps {
            let _ = match step {
                Step::Field(name) if path.is_empty() => write!(path, "{name}"),
                Step::Field(name) => write!(path, ".{name}"),
                Step::Index(index) => write!(path, "[{index}]"),
                Step::MapKey(key) => write!(path, "[{key}]"),
            };
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn trail<'a>(prefix: &'a str, steps: &[Step<'a>]) -> Trail<'a> {
        let mut trail = Trail::new(prefix);
        for step in steps {
            trail.push(*step);
        }
        trail
    }

    #[rstest]
    #[case::fields_and_indices_below_a_prefix(
        "spec.template.spec",
        &[Step::Field("containers"), Step::Index(2), Step::Field("restartPolicy")],
        "spec.template.spec.containers[2].restartPolicy",
    )]
    #[case::a_first_field_without_prefix_has_no_dot(
        "",
        &[Step::Field("metadata"), Step::Field("annotations"), Step::MapKey("a.b/c")],
        "metadata.annotations[a.b/c]",
    )]
    #[case::no_steps_is_the_prefix("spec", &[], "spec")]
    fn paths_are_rendered_kubectl_style(
        #[case] prefix: &str,
        #[case] steps: &[Step],
        #[case] expected: &str,
    ) {
        assert_eq!(trail(prefix, steps).render(), expected);
    }

    #[test]
    fn popping_a_step_returns_to_the_parent() {
        let mut trail = trail("spec", &[Step::Field("volumes"), Step::Index(0)]);
        trail.pop();
        trail.push(Step::Index(1));
        assert_eq!(trail.render(), "spec.volumes[1]");
    }
}
