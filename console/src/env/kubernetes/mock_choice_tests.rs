//! The mocked tier of a namespace with several Rollouts: a reading shows the first by
//! name and lists them all, a verb refuses to guess, and once one is chosen (the
//! console's `[`/`]`, or `--rollout`) the verbs patch that one.

use serde_json::{json, Value};

use super::mock_tests::{environment, get, list, merge_patch, paused, reread, verify, ROLLOUTS};
use crate::env::Environment;

fn named(name: &str) -> Value {
    let mut rollout = paused();
    rollout["metadata"]["name"] = json!(name);
    rollout
}

/// Listed in an order that is not the names' order.
fn both() -> Value {
    list("Rollout", vec![named("opsbox-api-b"), named("opsbox-api")])
}

#[tokio::test]
async fn a_reading_shows_the_first_rollout_and_names_every_one() {
    let (env, handle, _dir) = environment();
    let mut script = reread(json!(null));
    script[0] = get(ROLLOUTS, both());
    let (result, ()) = tokio::join!(env.rollout(), verify(handle, script));
    let status = result.expect("a reading");
    assert_eq!(status.name.as_deref(), Some("opsbox-api"));
    assert_eq!(status.choices, ["opsbox-api", "opsbox-api-b"]);
}

#[tokio::test]
async fn a_verb_refuses_to_guess_which_rollout_it_changes() {
    let (env, handle, _dir) = environment();
    let script = vec![get(ROLLOUTS, both())];
    let (result, ()) = tokio::join!(env.abort(), verify(handle, script));
    let error = format!("{:#}", result.expect_err("no Rollout chosen"));
    assert!(
        error.contains("2 OpsBox Rollouts (opsbox-api, opsbox-api-b)")
            && error.contains("--rollout"),
        "{error}"
    );
}

#[tokio::test]
async fn the_chosen_rollout_is_the_one_patched() {
    let (env, handle, _dir) = environment();
    env.choose_rollout("opsbox-api-b")
        .expect("a kubernetes environment chooses");
    let mut script = vec![
        get(ROLLOUTS, both()),
        merge_patch(
            format!("{ROLLOUTS}/opsbox-api-b/status?"),
            json!({"status": {"abort": true}}),
            named("opsbox-api-b"),
        ),
    ];
    let mut after = reread(json!(null));
    after[0] = get(ROLLOUTS, both());
    script.extend(after);
    let (result, ()) = tokio::join!(env.abort(), verify(handle, script));
    let status = result.expect("aborted");
    assert_eq!(status.name.as_deref(), Some("opsbox-api-b"));
    assert_eq!(status.choices.len(), 2);
}
