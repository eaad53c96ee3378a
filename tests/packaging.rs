//! The release files agree with each other: one version, one description, one
//! list of settings. `make release-check TAG=vX.Y.Z` then checks the tag
//! against the same version.

use serde_yaml::Value;

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn yaml(name: &str) -> Value {
    serde_yaml::from_str(&read(name)).unwrap_or_else(|e| panic!("parsing {name}: {e}"))
}

/// The string at `path` (mapping keys and sequence indexes) in `value`.
fn string_at<'a>(value: &'a Value, file: &str, path: &[&str]) -> &'a str {
    let mut here = value;
    for key in path {
        here = match key.parse::<usize>() {
            Ok(index) => here.get(index),
            Err(_) => here.get(*key),
        }
        .unwrap_or_else(|| panic!("{file} has no {}", path.join(".")));
    }
    here.as_str()
        .unwrap_or_else(|| panic!("{file}: {} is not a string", path.join(".")))
}

fn metadata_annotation<'a>(metadata: &'a Value, key: &str) -> &'a str {
    string_at(metadata, "policy-metadata.yml", &["annotations", key])
}

/// The `vX.Y.Z` tags that follow `marker` in `text`.
fn tags_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .map(|(at, _)| {
            text[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                .collect()
        })
        .collect()
}

/// The `variable` of every question of a questions-ui document, in order.
fn question_variables(questions: &Value, file: &str) -> Vec<String> {
    questions
        .get("questions")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{file} has no questions list"))
        .iter()
        .map(|q| {
            q.get("variable")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{file}: a question has no variable"))
                .to_owned()
        })
        .collect()
}

#[test]
fn cargo_metadata_and_artifacthub_carry_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    let metadata = yaml("policy-metadata.yml");
    let artifacthub = yaml("artifacthub-pkg.yml");
    assert_eq!(
        metadata_annotation(&metadata, "io.kubewarden.policy.version"),
        version,
        "io.kubewarden.policy.version in policy-metadata.yml against Cargo.toml"
    );
    let artifacthub_version = match &artifacthub["version"] {
        Value::String(s) => s.clone(),
        other => panic!("artifacthub-pkg.yml: version is not a string: {other:?}"),
    };
    assert_eq!(
        artifacthub_version, version,
        "version in artifacthub-pkg.yml against Cargo.toml"
    );
}

#[test]
fn every_versioned_reference_in_artifacthub_names_the_version() {
    let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
    let metadata = yaml("policy-metadata.yml");
    let artifacthub = yaml("artifacthub-pkg.yml");
    let oci_url = metadata_annotation(&metadata, "io.kubewarden.policy.ociUrl");
    assert_eq!(
        string_at(
            &artifacthub,
            "artifacthub-pkg.yml",
            &["containersImages", "0", "image"]
        ),
        format!("{oci_url}:{tag}"),
        "the image of artifacthub-pkg.yml is the ociUrl of policy-metadata.yml at the tag"
    );
    let text = read("artifacthub-pkg.yml");
    let image_tags = tags_after(&text, &format!("{oci_url}:"));
    let download_tags = tags_after(&text, "/releases/download/");
    assert!(!image_tags.is_empty() && !download_tags.is_empty());
    for found in image_tags.iter().chain(&download_tags) {
        assert_eq!(found, &tag, "artifacthub-pkg.yml refers to {found}");
    }
}

#[test]
fn artifacthub_repeats_the_metadata_description_and_keywords() {
    let metadata = yaml("policy-metadata.yml");
    let artifacthub = yaml("artifacthub-pkg.yml");
    let file = "artifacthub-pkg.yml";
    assert_eq!(
        metadata_annotation(&metadata, "io.kubewarden.policy.description"),
        string_at(&artifacthub, file, &["description"])
    );
    assert_eq!(
        metadata_annotation(&metadata, "io.artifacthub.displayName"),
        string_at(&artifacthub, file, &["displayName"])
    );
    assert_eq!(
        metadata_annotation(&metadata, "io.kubewarden.policy.title"),
        string_at(&artifacthub, file, &["name"])
    );
    let keywords: Vec<&str> = artifacthub["keywords"]
        .as_sequence()
        .expect("keywords in artifacthub-pkg.yml")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected: Vec<&str> = metadata_annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(keywords, expected, "keywords of artifacthub-pkg.yml");
}

#[test]
fn artifacthub_lists_the_settings_of_questions_ui() {
    let questions_text = read("questions-ui.yml");
    let questions: Value = serde_yaml::from_str(&questions_text).expect("questions-ui.yml");
    let artifacthub = yaml("artifacthub-pkg.yml");
    let embedded_text = string_at(
        &artifacthub,
        "artifacthub-pkg.yml",
        &["annotations", "kubewarden/questions-ui"],
    );
    let embedded: Value = serde_yaml::from_str(embedded_text)
        .expect("kubewarden/questions-ui of artifacthub-pkg.yml is YAML");
    assert_eq!(
        question_variables(&embedded, "kubewarden/questions-ui of artifacthub-pkg.yml"),
        question_variables(&questions, "questions-ui.yml"),
        "the settings artifacthub-pkg.yml lists against questions-ui.yml"
    );
    // kwctl scaffold artifacthub embeds the file as it is.
    assert_eq!(
        embedded_text, questions_text,
        "kubewarden/questions-ui of artifacthub-pkg.yml is not questions-ui.yml verbatim"
    );
}

#[test]
fn every_setting_has_a_question() {
    let questions = question_variables(&yaml("questions-ui.yml"), "questions-ui.yml");
    for setting in log_sidecar_policy::settings::SETTING_NAMES {
        assert!(
            questions.iter().any(|q| q == setting),
            "questions-ui.yml lacks {setting}"
        );
    }
    for question in &questions {
        assert!(
            log_sidecar_policy::settings::SETTING_NAMES.contains(&question.as_str()),
            "questions-ui.yml asks for {question}, which is no setting"
        );
    }
}
