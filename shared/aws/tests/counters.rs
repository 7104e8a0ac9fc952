//! Counters against a real local DynamoDB (moto): concurrent soft-bounce notices of
//! one address are each counted, and each sees its own count (the third one, and only
//! that one, is the one that suppresses).
//!
//! Needs `TERN_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use tern_aws::outreach::store::count_up;
use tern_domain::ids::WorkspaceId;
use tern_domain::reply::after_soft_bounces;

#[tokio::test]
async fn concurrent_counts_are_all_counted_and_each_sees_its_own() {
    let endpoint = std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"));
    let clients = tern_aws::AwsClients::from_sdk_config(&tern_aws::clients::local_sdk_config(&endpoint), true);
    let template = tern_aws::template::Template::load(&tern_aws::template::repository_root().join("template.yaml")).unwrap();
    let prefix = format!("t-counter-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (config, _) = tern_aws::provision::provision(&template, &clients, &prefix).await.expect("provisioned on moto");
    let platform = tern_aws::Platform::new(config, clients, std::sync::Arc::new(tern_domain::clock::SystemClock));
    let scoped = platform.table().scope(tern_aws::Tenant::found(WorkspaceId::generate(), tern_aws::Lookup::Observer));

    let mut running = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let scoped = scoped.clone();
        running.spawn(async move { count_up(&scoped, "softbounce.index-of-one-address").await.unwrap() });
    }
    let mut seen = Vec::new();
    while let Some(count) = running.join_next().await {
        seen.push(count.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=12).collect::<Vec<u32>>(), "no count lost or seen twice");
    assert_eq!(seen.iter().filter(|n| after_soft_bounces(**n).is_some() && after_soft_bounces(**n - 1).is_none()).count(), 1);
    // Another address counts on its own.
    assert_eq!(count_up(&scoped, "softbounce.index-of-another").await.unwrap(), 1);
}
