//! The generated AnalysisTemplates conform to the upstream Argo Rollouts CRD schema (needs OPSBOX_SHARED_FIXTURES).

use std::fs;
use std::path::{Path, PathBuf};

use opsbox::slo::analysis::unescape_helm;
use opsbox::slo::generate::ANALYSIS_TEMPLATE_PATH;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// The fixtures directory (shared/fixtures), or None with a note: the
/// project's own suite must pass without the upstream files.
fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("OPSBOX_SHARED_FIXTURES") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            println!("skipped: set OPSBOX_SHARED_FIXTURES to the shared/fixtures directory to check against the upstream CRD");
            None
        }
    }
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("valid YAML document"))
        .filter(|document| !document.is_null())
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The CRD's served version: (apiVersion, kind, openAPIV3Schema).
fn crd_schema(fixtures: &Path) -> (String, String, Value) {
    let crd = documents(&read(&fixtures.join("crds/analysis-template-crd.yaml")))
        .pop()
        .expect("one CRD");
    let spec = &crd["spec"];
    let version = spec["versions"]
        .as_sequence()
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v["served"].as_bool() == Some(true))
        })
        .expect("a served version");
    let api_version = format!(
        "{}/{}",
        spec["group"].as_str().expect("group"),
        version["name"].as_str().expect("version name")
    );
    let kind = spec["names"]["kind"].as_str().expect("kind").to_owned();
    (
        api_version,
        kind,
        version["schema"]["openAPIV3Schema"].clone(),
    )
}

/// The chart file as Helm would render it: it only escapes Argo's braces.
fn rendered_templates() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let helm = read(&root.join(ANALYSIS_TEMPLATE_PATH));
    let rendered = unescape_helm(&helm);
    assert!(
        !rendered.contains("{{ "),
        "the template uses Helm actions beyond brace escapes; this check cannot render them"
    );
    documents(&rendered)
}

/// Walks a value against an OpenAPI v3 schema as the API server's
/// structural validation would: types, required fields, unknown fields.
fn check(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            problems.push(format!(
                "{path}: want an integer or a string, got {value:?}"
            ));
        }
        return;
    }
    if let Some(branches) = schema["anyOf"].as_sequence() {
        let matches_one = branches.iter().any(|branch| {
            let mut branch_problems = Vec::new();
            check(value, branch, path, &mut branch_problems);
            branch_problems.is_empty()
        });
        if !matches_one {
            problems.push(format!("{path}: matches none of anyOf"));
        }
        return;
    }
    if let Some(allowed) = schema["enum"].as_sequence() {
        if !allowed.contains(value) {
            problems.push(format!("{path}: {value:?} is not one of {allowed:?}"));
        }
    }
    match schema["type"].as_str() {
        Some("object") => check_object(value, schema, path, problems),
        Some("array") => match value.as_sequence() {
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    check(
                        item,
                        &schema["items"],
                        &format!("{path}[{index}]"),
                        problems,
                    );
                }
            }
            None => problems.push(format!("{path}: want an array, got {value:?}")),
        },
        Some("string") if !value.is_string() => {
            problems.push(format!("{path}: want a string, got {value:?}"))
        }
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            problems.push(format!("{path}: want an integer, got {value:?}"))
        }
        Some("number") if !value.is_number() => {
            problems.push(format!("{path}: want a number, got {value:?}"))
        }
        Some("boolean") if !value.is_bool() => {
            problems.push(format!("{path}: want a boolean, got {value:?}"))
        }
        _ => {}
    }
}

fn check_object(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(object) = value.as_mapping() else {
        problems.push(format!("{path}: want an object, got {value:?}"));
        return;
    };
    for required in schema["required"].as_sequence().into_iter().flatten() {
        if !object.contains_key(required) {
            problems.push(format!("{path}: missing required field {required:?}"));
        }
    }
    let empty = Mapping::new();
    let properties = schema["properties"].as_mapping().unwrap_or(&empty);
    // An object schema without properties (metadata) or one that preserves
    // unknown fields accepts anything; otherwise unknown fields are errors,
    // as with `kubectl apply --validate=strict`.
    let open = properties.is_empty()
        || schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    for (key, field) in object {
        let name = key.as_str().unwrap_or("?");
        let field_path = format!("{path}.{name}");
        if let Some(field_schema) = properties.get(key) {
            check(field, field_schema, &field_path, problems);
        } else if schema["additionalProperties"].is_mapping() {
            check(
                field,
                &schema["additionalProperties"],
                &field_path,
                problems,
            );
        } else if !open {
            problems.push(format!("{field_path}: unknown field"));
        }
    }
}

/// A way to break the first metric of a template.
type Breakage = fn(&mut Mapping);

fn first_metric(template: &mut Value) -> Option<&mut Mapping> {
    template["spec"]["metrics"][0].as_mapping_mut()
}

fn problems_of(object: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check(object, schema, "", &mut problems);
    problems
}

#[test]
fn generated_templates_conform_to_the_upstream_crd() {
    let Some(fixtures) = fixtures() else { return };
    let (api_version, kind, schema) = crd_schema(&fixtures);
    let templates = rendered_templates();
    assert_eq!(templates.len(), 2, "one AnalysisTemplate per service");
    for template in &templates {
        let name = template["metadata"]["name"].as_str().unwrap_or("?");
        assert_eq!(
            template["apiVersion"].as_str(),
            Some(api_version.as_str()),
            "{name}"
        );
        assert_eq!(template["kind"].as_str(), Some(kind.as_str()), "{name}");
        let problems = problems_of(template, &schema);
        assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
        for metric in template["spec"]["metrics"].as_sequence().expect("metrics") {
            let prometheus = &metric["provider"]["prometheus"];
            assert_eq!(
                prometheus["address"].as_str(),
                Some("{{args.prometheus-address}}")
            );
            let query = prometheus["query"].as_str().expect("query");
            assert!(query.contains(r#"track="canary""#), "{query}");
            assert!(query.starts_with("scalar("), "{query}");
        }
    }
}

#[test]
fn upstream_examples_pass_the_same_check_and_share_our_shape() {
    let Some(fixtures) = fixtures() else { return };
    let (_, _, schema) = crd_schema(&fixtures);
    let examples = documents(&read(
        &fixtures.join("argo-rollouts/analysis-templates.yaml"),
    ));
    assert!(!examples.is_empty());
    let ours = rendered_templates();
    for example in &examples {
        let problems = problems_of(example, &schema);
        assert!(
            problems.is_empty(),
            "upstream example rejected: {problems:?}"
        );
        assert_eq!(example["apiVersion"], ours[0]["apiVersion"]);
        assert_eq!(example["kind"], ours[0]["kind"]);
        // Every measurement setting upstream relies on, we set too.
        for metric in example["spec"]["metrics"].as_sequence().expect("metrics") {
            for (key, _) in metric.as_mapping().expect("metric") {
                for template in &ours {
                    for our_metric in template["spec"]["metrics"].as_sequence().expect("ours") {
                        assert!(
                            our_metric.as_mapping().is_some_and(|m| m.contains_key(key)),
                            "upstream sets {key:?} on its metrics; ours does not"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_schema_check_rejects_broken_templates() {
    let Some(fixtures) = fixtures() else { return };
    let (_, _, schema) = crd_schema(&fixtures);
    let template = rendered_templates().remove(0);
    let breakages: [(&str, Breakage); 4] = [
        ("count as a list", |m| {
            m.insert("count".into(), Value::Sequence(vec![1.into()]));
        }),
        ("no provider", |m| {
            m.remove("provider");
        }),
        ("a misspelt field", |m| {
            m.insert("failurLimit".into(), 1.into());
        }),
        ("interval as a number", |m| {
            m.insert("interval".into(), 60.into());
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = template.clone();
        breakage(first_metric(&mut broken).expect("first metric"));
        assert!(!problems_of(&broken, &schema).is_empty(), "accepted {what}");
    }
}
