//! Kubernetes minor versions, as given in the `kubernetesVersion` setting.

use std::fmt;

use serde::{Deserialize, Deserializer, de};

/// A Kubernetes `MAJOR.MINOR` version. Ordering follows the release order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        KubeVersion { major, minor }
    }

    /// Parses `MAJOR.MINOR` (digits only, no leading `v`, no patch level).
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        Some(KubeVersion::new(number(major)?, number(minor)?))
    }
}

fn number(text: &str) -> Option<u32> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let canonical = text == "0" || !text.starts_with('0');
    if plain && canonical {
        text.parse().ok()
    } else {
        None
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl<'de> Deserialize<'de> for KubeVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        KubeVersion::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "\"{text}\" is not a Kubernetes version MAJOR.MINOR, such as \"1.33\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain_minor("1.33", Some(KubeVersion::new(1, 33)))]
    #[case::two_digit_minor("1.9", Some(KubeVersion::new(1, 9)))]
    #[case::patch_level_is_not_a_minor_version("1.33.2", None)]
    #[case::leading_v_is_not_accepted("v1.33", None)]
    #[case::leading_zero_is_ambiguous("1.033", None)]
    #[case::missing_minor("1", None)]
    #[case::empty_minor("1.", None)]
    #[case::sign_is_not_a_digit("1.+3", None)]
    #[case::too_large_for_u32("1.99999999999", None)]
    fn versions_parse_only_as_major_dot_minor(
        #[case] text: &str,
        #[case] expected: Option<KubeVersion>,
    ) {
        assert_eq!(KubeVersion::parse(text), expected, "parsing {text:?}");
    }

    #[test]
    fn versions_order_by_minor_numerically_not_lexically() {
        assert!(KubeVersion::new(1, 9) < KubeVersion::new(1, 29));
        assert_eq!(KubeVersion::new(1, 29).to_string(), "1.29");
    }
}
