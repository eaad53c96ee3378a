//! kubectl-style paths of the values a walk over an object reaches:
//! `spec.containers[0].restartPolicy`, `metadata.annotations[a.b/c]`.
//!
//! A walk builds each child's path on the stack from its parent's and writes
//! one out only for what it reports: nearly every value looked at is fine,
//! and formatting the path of each of them took more time than the checks.

use std::fmt;

pub enum Path<'a> {
    /// Where the walk starts; `""` for the object itself.
    Root(&'a str),
    /// `parent.name`
    Field(&'a Path<'a>, &'a str),
    /// `parent[index]`
    Index(&'a Path<'a>, usize),
    /// `parent[key]`, for the keys of a map such as annotations.
    Key(&'a Path<'a>, &'a str),
}

impl<'a> Path<'a> {
    pub fn field(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(path) => f.write_str(path),
            Path::Field(Path::Root(""), name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Path::Key(parent, key) => write!(f, "{parent}[{key}]"),
        }
    }
}

/// `prefix.list[index]` (or `list[index]` under an empty prefix), written
/// without the formatting machinery: the conversion names every container
/// it moves, and formatting cost more than the rest of naming one.
pub fn item_path(prefix: &str, list: &str, index: usize) -> String {
    let mut digits = [0u8; 20];
    let (mut rest, mut start) = (index, digits.len());
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut path = String::with_capacity(prefix.len() + list.len() + digits.len() + 3);
    if !prefix.is_empty() {
        path.push_str(prefix);
        path.push('.');
    }
    path.push_str(list);
    path.push('[');
    path.extend(digits[start..].iter().map(|&digit| char::from(digit)));
    path.push(']');
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::first("spec", "containers", 0)]
    #[case::two_digits("spec.template.spec", "initContainers", 42)]
    #[case::the_largest_index("spec", "containers", usize::MAX)]
    #[case::under_an_empty_prefix("", "containers", 7)]
    fn item_paths_read_as_the_walks_write_them(
        #[case] prefix: &str,
        #[case] list: &str,
        #[case] index: usize,
    ) {
        let root = Path::Root(prefix);
        let field = root.field(list);
        assert_eq!(
            item_path(prefix, list, index),
            field.index(index).to_string()
        );
    }

    #[test]
    fn fields_and_indices_follow_the_prefix() {
        let root = Path::Root("spec.template.spec");
        let list = root.field("containers");
        let item = list.index(2);
        assert_eq!(
            item.field("restartPolicy").to_string(),
            "spec.template.spec.containers[2].restartPolicy"
        );
    }

    #[test]
    fn a_first_field_below_an_empty_root_has_no_dot() {
        let root = Path::Root("");
        let metadata = root.field("metadata");
        let annotations = metadata.field("annotations");
        assert_eq!(
            annotations.key("a.b/c").to_string(),
            "metadata.annotations[a.b/c]"
        );
    }

    #[test]
    fn a_root_alone_is_its_prefix() {
        assert_eq!(Path::Root("spec").to_string(), "spec");
    }
}
