use super::*;
use crate::tui::test_support::normal_store;

#[test]
fn live_values_come_from_the_store() {
    let store = normal_store();
    let store = store.borrow();
    let values = live_values(&store, "api-availability");
    assert_eq!(values.get("burn_rate_1h"), Some("15x"));
    assert_eq!(values.get("budget_left"), Some("~21.00%"));
    assert_eq!(values.get("canary"), Some("v2"));
    assert_eq!(values.get("canary_weight"), Some("50%"));
    assert_eq!(values.get("alert"), Some("PAGE"));
    assert_eq!(
        values.get("last_rollout_event"),
        Some("promote 5m ago: promoted by alice")
    );
    let unknown = live_values(&store, "no-such-slo");
    assert_eq!(unknown.get("budget_left"), Some("unknown"));
}

#[test]
fn placeholders_are_filled_and_quoted_rules_annotated() {
    let store = normal_store();
    let store = store.borrow();
    let values = live_values(&store, "api-availability");
    let text = "Burn {{burn_rate_1h}} with {{canary}} at {{ canary_weight }}; {{nope}} stays.\n\
                - `slo:sli_error:ratio_rate5m{slo=\"api-availability\"}`\n\
                - Budget: `slo:period_error_budget_remaining:ratio`";
    let filled = fill(text, &values);
    assert_eq!(filled[0], "Burn 15x with v2 at 50%; {{nope}} stays.");
    assert!(
        filled[1].ends_with("⟵ 5m error ratio now 2.05%"),
        "{}",
        filled[1]
    );
    assert!(
        filled[2].ends_with("⟵ budget left now ~21.00%"),
        "{}",
        filled[2]
    );
}

#[test]
fn runbooks_are_found_from_the_repository_and_missing_ones_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let book = dir.path().join("docs/runbooks/x.md");
    std::fs::create_dir_all(book.parent().expect("parent")).expect("mkdir");
    std::fs::write(&book, "# X\n").expect("write");
    let state = dir.path().join(".opsbox");
    std::fs::create_dir_all(&state).expect("mkdir");
    let found = locate("docs/runbooks/x.md", &state).expect("found via the state dir's parent");
    assert_eq!(read(&found).expect("read"), "# X\n");
    let error = locate("docs/runbooks/missing.md", &state).expect_err("missing");
    assert!(error.contains("docs/runbooks/missing.md"), "{error}");
    assert!(locate(&book.display().to_string(), &state).is_ok());
}
