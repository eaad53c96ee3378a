//! The release files agree with each other: one version, one description.

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The value of the first line `key: value` (leading spaces allowed).
fn value_of(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim()
        .to_string()
}

#[test]
fn metadata_and_artifacthub_carry_the_crate_version() {
    let version = env!("CARGO_PKG_VERSION");
    let metadata = read("policy-metadata.yml");
    let artifacthub = read("artifacthub-pkg.yml");
    assert_eq!(value_of(&metadata, "io.kubewarden.policy.version"), version);
    assert_eq!(value_of(&artifacthub, "version"), version);
    assert!(
        artifacthub.contains(&format!("log-sidecar-policy:v{version}")),
        "the image reference uses the version"
    );
}

#[test]
fn artifacthub_repeats_the_metadata_description_and_keywords() {
    let metadata = read("policy-metadata.yml");
    let artifacthub = read("artifacthub-pkg.yml");
    assert_eq!(
        value_of(&metadata, "io.kubewarden.policy.description"),
        value_of(&artifacthub, "description")
    );
    for keyword in value_of(&metadata, "io.artifacthub.keywords").split(", ") {
        assert!(
            artifacthub.contains(&format!("  - {keyword}\n")),
            "keyword {keyword} missing from artifacthub-pkg.yml"
        );
    }
    assert_eq!(
        value_of(&metadata, "io.artifacthub.displayName"),
        value_of(&artifacthub, "displayName")
    );
}

#[test]
fn every_setting_has_a_question() {
    let questions = read("questions-ui.yml");
    for setting in log_sidecar_policy::settings::SETTING_NAMES {
        assert!(
            questions.contains(&format!("variable: {setting}\n")),
            "questions-ui.yml lacks {setting}"
        );
    }
}
