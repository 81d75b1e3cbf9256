//! Traffic split by canary weight and round-robin within a track.

use opsbox::env::local::router::{CanaryWeight, Router};
use opsbox_common::config::Track;

use super::harness::{send, start_router, Upstream};

fn weight(percent: u8) -> CanaryWeight {
    CanaryWeight::new(percent).expect("percentage")
}

/// A router with one stable (`api-1`) and one canary (`api-canary-1`) upstream;
/// the upstreams serve as long as the returned handles live.
async fn stable_and_canary() -> (Upstream, Upstream, Router) {
    let stable = Upstream::start("api-1").await;
    let canary = Upstream::start("api-canary-1").await;
    let router = start_router().await;
    let control = router.control();
    control
        .set_upstreams(Track::Stable, vec![stable.target()])
        .expect("valid");
    control
        .set_upstreams(Track::Canary, vec![canary.target()])
        .expect("valid");
    (stable, canary, router)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_over_2000_requests_lands_within_three_sigma() {
    let (_stable, _canary, router) = stable_and_canary().await;
    let control = router.control();
    control.set_canary_weight(weight(30));

    let tally = send(&router, 2000, 8).await;

    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
    // Binomial(2000, 0.3): mean 600, sigma ~20.5. The smooth split is exact, but the
    // bound is what any correct weighted split must meet.
    let canary_share = tally.track("canary");
    assert!(
        (538..=662).contains(&canary_share),
        "canary got {canary_share} of 2000"
    );
    assert_eq!(tally.track("stable") + canary_share, 2000);
    assert_eq!(tally.instance("api-canary-1"), canary_share);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_0_and_100_are_exact() {
    let (_stable, _canary, router) = stable_and_canary().await;
    let control = router.control();

    control.set_canary_weight(CanaryWeight::STABLE_ONLY);
    let all_stable = send(&router, 200, 4).await;
    assert_eq!(all_stable.track("stable"), 200, "{all_stable:?}");

    control.set_canary_weight(CanaryWeight::FULL);
    let all_canary = send(&router, 200, 4).await;
    assert_eq!(all_canary.track("canary"), 200, "{all_canary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_within_a_track_is_even() {
    let upstreams = [
        Upstream::start("api-1").await,
        Upstream::start("api-2").await,
        Upstream::start("api-3").await,
    ];
    let router = start_router().await;
    router
        .control()
        .set_upstreams(
            Track::Stable,
            upstreams.iter().map(Upstream::target).collect(),
        )
        .expect("valid");

    let tally = send(&router, 300, 4).await;

    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
    for upstream in &upstreams {
        assert_eq!(tally.instance(&upstream.name), 100, "{tally:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weight_and_instance_changes_take_effect_without_a_restart() {
    let (_stable, canary, router) = stable_and_canary().await;
    let control = router.control();

    assert_eq!(send(&router, 100, 2).await.track("stable"), 100);

    control.set_canary_weight(weight(50));
    let half = send(&router, 100, 2).await;
    assert_eq!(
        (half.track("stable"), half.track("canary")),
        (50, 50),
        "{half:?}"
    );

    control.set_canary_weight(CanaryWeight::FULL);
    assert_eq!(send(&router, 100, 2).await.track("canary"), 100);

    // A rollout's end: the canary's instances become the stable track, weight back to 0.
    let second = Upstream::start("api-2").await;
    control
        .set_upstreams(Track::Stable, vec![canary.target(), second.target()])
        .expect("valid");
    control
        .set_upstreams(Track::Canary, Vec::new())
        .expect("valid");
    control.set_canary_weight(CanaryWeight::STABLE_ONLY);
    let promoted = send(&router, 100, 2).await;
    assert_eq!(promoted.instance("api-canary-1"), 50, "{promoted:?}");
    assert_eq!(promoted.instance("api-2"), 50, "{promoted:?}");
    assert_eq!(promoted.instance("api-1"), 0, "{promoted:?}");
}
