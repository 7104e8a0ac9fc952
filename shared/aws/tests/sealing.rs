//! Per-workspace keys and the sealing service against a real local KMS (moto).
//!
//! Needs `TERN_TEST_AWS_ENDPOINT` (scripts/test starts moto and sets it). Every
//! test makes its own workspaces (fresh UUIDs, so fresh aliases) and its own
//! clients and cost meter, so tests run in parallel against one moto.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::time::Duration;
use tern_aws::CostMeter;
use tern_aws::sealing::{DEFAULT_CACHE_TTL, FieldIdentity, SealedValue, Sealer, SealingError};
use tern_aws::workspace_keys::{WORKSPACE_TAG, create_workspace_key, schedule_workspace_key_deletion, workspace_key_alias};
use tern_domain::ids::WorkspaceId;

const PURPOSE: &str = "mailbox-credentials";

/// The test's own KMS client, counted on its own meter.
struct Clients {
    kms: aws_sdk_kms::Client,
    meter: CostMeter,
}

fn clients() -> Clients {
    let endpoint = std::env::var("TERN_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("TERN_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts moto for them"));
    let sdk = tern_aws::clients::local_sdk_config(&endpoint);
    let meter = CostMeter::new();
    let kms = aws_sdk_kms::Client::from_conf(aws_sdk_kms::config::Builder::from(&sdk).interceptor(meter.clone()).build());
    Clients { kms, meter }
}

/// A new workspace with its key: `(id, id as text, key id)`.
async fn workspace(clients: &Clients) -> (WorkspaceId, String, String) {
    let ws = WorkspaceId::generate();
    let key = create_workspace_key(&clients.kms, ws).await.expect("workspace key");
    (ws, ws.to_string(), key)
}

fn field<'a>(ws: &'a str, entity: &'a str, id: &'a str, field: &'a str) -> FieldIdentity<'a> {
    FieldIdentity { workspace: ws, entity, id, field }
}

fn kms_requests(clients: &Clients, operation: &str) -> u64 {
    clients.meter.snapshot().requests("kms", operation)
}

#[tokio::test]
async fn round_trip_and_workspace_key_creation_is_idempotent() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;

    // Again for the same workspace: the same key, found through the alias.
    assert_eq!(create_workspace_key(&c.kms, ws).await.unwrap(), key);
    let by_alias = c.kms.describe_key().key_id(workspace_key_alias(ws)).send().await.unwrap();
    assert_eq!(by_alias.key_metadata.unwrap().key_id, key);
    let tags = c.kms.list_resource_tags().key_id(&key).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.tag_key() == WORKSPACE_TAG && t.tag_value() == ws_text), "{tags:?}");
    // Two creators racing for a new workspace end up with one key between them.
    let racing = WorkspaceId::generate();
    let (first, second) = tokio::join!(create_workspace_key(&c.kms, racing), create_workspace_key(&c.kms, racing));
    assert_eq!(first.unwrap(), second.unwrap());
    // Another workspace gets another key.
    let (_, _, other_key) = workspace(&c).await;
    assert_ne!(other_key, key);

    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let id = field(&ws_text, "mailbox", "mb_1", "smtp_password");
    let sealed = sealer.seal(ws, &key, PURPOSE, &id, b"hunter2-smtp").await.unwrap();
    assert!(!sealed.key_blob.is_empty());
    assert!(!sealed.ciphertext.windows(6).any(|w| w == b"hunter"), "plaintext visible");
    // Stored as JSON and read back, as an item attribute would be.
    let stored: SealedValue = serde_json::from_str(&serde_json::to_string(&sealed).unwrap()).unwrap();
    let warm = sealer.open(ws, PURPOSE, &id, &stored).await.unwrap();
    assert_eq!(warm.expose(), b"hunter2-smtp");
    let cold = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL).open(ws, PURPOSE, &id, &stored).await.unwrap();
    assert_eq!(cold.expose(), b"hunter2-smtp");
    // What a log line would show.
    assert_eq!(format!("{warm:?}"), "[redacted]");
    assert!(!format!("{sealer:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_thousand_fields_cost_one_kms_call_to_seal_and_one_to_open() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;
    let ids: Vec<String> = (0..1000).map(|i| format!("c_{i}")).collect();

    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let before = c.meter.snapshot();
    let mut sealed = Vec::with_capacity(ids.len());
    for id in &ids {
        let plaintext = format!("note for {id}");
        sealed.push(sealer.seal(ws, &key, PURPOSE, &field(&ws_text, "contact", id, "notes"), plaintext.as_bytes()).await.unwrap());
    }
    let sealing = c.meter.snapshot().since(&before);
    assert_eq!(sealing.requests("kms", "GenerateDataKey"), 1, "{sealing:?}");
    assert_eq!(sealing.service_requests("kms"), 1, "{sealing:?}");
    // The same container reading back what it sealed needs no Decrypt at all.
    let warm_before = c.meter.snapshot();
    for (id, value) in ids.iter().zip(&sealed).take(10) {
        sealer.open(ws, PURPOSE, &field(&ws_text, "contact", id, "notes"), value).await.unwrap();
    }
    let warm = c.meter.snapshot().since(&warm_before);
    assert_eq!(warm.service_requests("kms"), 0, "{warm:?}");

    // A fresh container (cold cache) opening all of them.
    let cold_sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let before = c.meter.snapshot();
    for (id, value) in ids.iter().zip(&sealed) {
        let opened = cold_sealer.open(ws, PURPOSE, &field(&ws_text, "contact", id, "notes"), value).await.unwrap();
        assert_eq!(opened.expose(), format!("note for {id}").as_bytes());
    }
    let opening = c.meter.snapshot().since(&before);
    assert_eq!(opening.requests("kms", "Decrypt"), 1, "{opening:?}");
    assert_eq!(opening.service_requests("kms"), 1, "{opening:?}");

    eprintln!(
        "KMS requests per 1,000 sealed fields (one workspace + purpose, cache TTL {:?}): \
         seal = {} GenerateDataKey, open in a cold container = {} Decrypt, open in the sealing container = 0",
        DEFAULT_CACHE_TTL,
        sealing.requests("kms", "GenerateDataKey"),
        opening.requests("kms", "Decrypt"),
    );
}

#[tokio::test]
async fn concurrent_misses_share_one_kms_call() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (sealer, key, ws_text) = (sealer.clone(), key.clone(), ws_text.clone());
        tasks.spawn(async move {
            let id = format!("mb_{i}");
            sealer.seal(ws, &key, PURPOSE, &field(&ws_text, "mailbox", &id, "token"), b"t").await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(kms_requests(&c, "GenerateDataKey"), 1);
}

#[tokio::test]
async fn a_value_moved_to_another_item_does_not_open() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let home = field(&ws_text, "mailbox", "mb_1", "smtp_password");
    let sealed = sealer.seal(ws, &key, PURPOSE, &home, b"s3cret").await.unwrap();

    let elsewhere = [
        field(&ws_text, "mailbox", "mb_2", "smtp_password"), // another item
        field(&ws_text, "mailbox", "mb_1", "oauth_token"),   // another field
        field(&ws_text, "contact", "mb_1", "smtp_password"), // another entity
    ];
    let cold = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    for other in &elsewhere {
        // Warm: the data key is cached and right; the associated data is not.
        assert_eq!(sealer.open(ws, PURPOSE, other, &sealed).await.unwrap_err(), SealingError::Refused, "{other:?}");
        // Cold: KMS unwraps the key (same workspace and purpose), GCM refuses.
        assert_eq!(cold.open(ws, PURPOSE, other, &sealed).await.unwrap_err(), SealingError::Refused, "{other:?}");
    }
    // Another purpose of the same workspace: KMS refuses the context.
    assert_eq!(sealer.open(ws, "oauth-tokens", &home, &sealed).await.unwrap_err(), SealingError::Refused);
    // The right place still opens.
    assert_eq!(cold.open(ws, PURPOSE, &home, &sealed).await.unwrap().expose(), b"s3cret");
}

#[tokio::test]
async fn a_value_moved_to_another_workspace_does_not_open_warm_or_cold() {
    let c = clients();
    let (ws_a, a_text, key_a) = workspace(&c).await;
    let (ws_b, b_text, key_b) = workspace(&c).await;
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let in_a = field(&a_text, "mailbox", "mb_1", "smtp_password");
    let in_b = field(&b_text, "mailbox", "mb_1", "smtp_password");
    let sealed = sealer.seal(ws_a, &key_a, PURPOSE, &in_a, b"tenant-a-secret").await.unwrap();
    // B is busy in this container too, so both workspaces have warm keys.
    sealer.seal(ws_b, &key_b, PURPOSE, &in_b, b"tenant-b-secret").await.unwrap();

    let cold = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    for s in [&sealer, &cold] {
        // Copied into B's item of the same shape: A's blob is not in the cache
        // under B (the cache is keyed by workspace too), so KMS sees B's context
        // for a blob made under A's and refuses.
        let decrypts = kms_requests(&c, "Decrypt");
        assert_eq!(s.open(ws_b, PURPOSE, &in_b, &sealed).await.unwrap_err(), SealingError::Refused);
        assert_eq!(kms_requests(&c, "Decrypt"), decrypts + 1, "the check must reach KMS");
        // Claiming B while presenting A's identity is refused before any KMS call.
        assert_eq!(s.open(ws_b, PURPOSE, &in_a, &sealed).await.unwrap_err(), SealingError::Refused);
        assert_eq!(kms_requests(&c, "Decrypt"), decrypts + 1);
    }
    // Refusals leave nothing behind in the cache for B beyond its own sealing key.
    assert_eq!(cold.cached_entries(ws_b), 0);
    // Sealing with A's key for an item of B is refused as well.
    assert_eq!(sealer.seal(ws_a, &key_a, PURPOSE, &in_b, b"x").await.unwrap_err(), SealingError::Refused);
    // And A still opens its own.
    assert_eq!(cold.open(ws_a, PURPOSE, &in_a, &sealed).await.unwrap().expose(), b"tenant-a-secret");
}

/// Does moto enforce the encryption context on Decrypt? It does (it binds the
/// context as AES-GCM associated data of its own ciphertext, as AWS binds it).
/// Were it not so, the cross-workspace check would still hold on our side: the
/// seal's associated data names the workspace, and `Sealer` refuses an identity
/// whose workspace is not the one asked for. Both layers are shown here.
#[tokio::test]
async fn moto_enforces_the_encryption_context_and_the_associated_data_does_too() {
    let c = clients();
    let (ws_a, a_text, key_a) = workspace(&c).await;
    let b_text = WorkspaceId::generate().to_string();

    // Layer 1, KMS itself: a data key made under A's context does not unwrap under B's.
    let made = c
        .kms
        .generate_data_key()
        .key_id(&key_a)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .encryption_context("workspace", &a_text)
        .encryption_context("purpose", PURPOSE)
        .send()
        .await
        .unwrap();
    let blob = made.ciphertext_blob.clone().unwrap();
    let under = |ws: &str, purpose: &str| {
        c.kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("workspace", ws).encryption_context("purpose", purpose).send()
    };
    let right = under(&a_text, PURPOSE).await.unwrap();
    assert_eq!(right.plaintext, made.plaintext);
    for (ws, purpose) in [(&b_text, PURPOSE), (&a_text, "other-purpose")] {
        let err = under(ws, purpose).await.unwrap_err();
        assert!(err.as_service_error().is_some_and(|e| e.is_invalid_ciphertext_exception()), "{err:?}");
    }
    let no_context = c.kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err();
    assert!(no_context.as_service_error().is_some_and(|e| e.is_invalid_ciphertext_exception()));

    // Layer 2, ours: even holding the right plain data key (as if KMS had not
    // checked), a value sealed for A's item does not open as B's item.
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let in_a = field(&a_text, "contact", "c_1", "notes");
    let in_b = field(&b_text, "contact", "c_1", "notes");
    let sealed = sealer.seal(ws_a, &key_a, PURPOSE, &in_a, b"only for A").await.unwrap();
    let plain_key = c
        .kms
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(sealed.key_blob.clone()))
        .encryption_context("workspace", &a_text)
        .encryption_context("purpose", PURPOSE)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    let key = tern_security::seal::DataKey::from_slice(plain_key.as_ref()).unwrap();
    assert_eq!(tern_security::seal::open(&key, &in_a, &sealed.ciphertext).unwrap().expose(), b"only for A");
    assert_eq!(tern_security::seal::open(&key, &in_b, &sealed.ciphertext).unwrap_err(), tern_security::seal::SealError::Authentication);
}

#[tokio::test]
async fn tampered_values_do_not_open() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let id = field(&ws_text, "mailbox", "mb_1", "smtp_password");
    let sealed = sealer.seal(ws, &key, PURPOSE, &id, b"s3cret").await.unwrap();
    let cold = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);

    for at in [0, 1, 13, sealed.ciphertext.len() - 1] {
        let mut t = sealed.clone();
        t.ciphertext[at] ^= 0x01;
        assert_eq!(sealer.open(ws, PURPOSE, &id, &t).await.unwrap_err(), SealingError::Refused, "byte {at}");
        assert_eq!(cold.open(ws, PURPOSE, &id, &t).await.unwrap_err(), SealingError::Refused, "byte {at}");
    }
    let mut truncated = sealed.clone();
    truncated.ciphertext.truncate(10);
    assert_eq!(sealer.open(ws, PURPOSE, &id, &truncated).await.unwrap_err(), SealingError::Refused);

    // A damaged key blob is not in any cache, and KMS refuses it.
    let mut bad_blob = sealed.clone();
    let last = bad_blob.key_blob.len() - 1;
    bad_blob.key_blob[last] ^= 0x01;
    assert_eq!(sealer.open(ws, PURPOSE, &id, &bad_blob).await.unwrap_err(), SealingError::Refused);
    let mut garbage = sealed.clone();
    garbage.key_blob = b"not a kms blob at all".to_vec();
    assert!(sealer.open(ws, PURPOSE, &id, &garbage).await.is_err());
    // Refused blobs are not kept: only the sealing key and its opening twin remain.
    assert_eq!(sealer.cached_entries(ws), 2);
}

#[tokio::test]
async fn expired_cache_entries_are_fetched_again() {
    let c = clients();
    let (ws, ws_text, key) = workspace(&c).await;
    let ttl = Duration::from_secs(60);
    // The test's own monotonic time, moved past the TTL instead of waited for: a slow
    // KMS answer never ages an entry by accident.
    let time = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let now = {
        let time = time.clone();
        move || *time.lock().unwrap()
    };
    let pass_the_ttl = || *time.lock().unwrap() += ttl + Duration::from_secs(1);
    let sealer = Sealer::with_time_source(c.kms.clone(), ttl, tern_aws::sealing::DEFAULT_CACHE_CAPACITY, std::sync::Arc::new(now));
    let id = field(&ws_text, "mailbox", "mb_1", "smtp_password");

    let first = sealer.seal(ws, &key, PURPOSE, &id, b"one").await.unwrap();
    let again = sealer.seal(ws, &key, PURPOSE, &id, b"two").await.unwrap();
    assert_eq!(kms_requests(&c, "GenerateDataKey"), 1);
    assert_eq!(first.key_blob, again.key_blob, "fresh entry reused");
    pass_the_ttl();
    let later = sealer.seal(ws, &key, PURPOSE, &id, b"three").await.unwrap();
    assert_eq!(kms_requests(&c, "GenerateDataKey"), 2);
    assert_ne!(later.key_blob, first.key_blob, "a new data key after expiry");

    // Opening: the expired key is unwrapped again, once, and old values still open.
    let decrypts = kms_requests(&c, "Decrypt");
    assert_eq!(sealer.open(ws, PURPOSE, &id, &first).await.unwrap().expose(), b"one");
    assert_eq!(sealer.open(ws, PURPOSE, &id, &again).await.unwrap().expose(), b"two");
    assert_eq!(kms_requests(&c, "Decrypt"), decrypts + 1);
    assert_eq!(sealer.open(ws, PURPOSE, &id, &later).await.unwrap().expose(), b"three");
    assert_eq!(kms_requests(&c, "Decrypt"), decrypts + 1, "the new key was cached for opening when made");

    // purge_expired drops what has expired without waiting for the next miss.
    pass_the_ttl();
    assert_eq!(sealer.cached_entries(ws), 3);
    sealer.purge_expired();
    assert_eq!(sealer.cached_entries(ws), 0);
    assert!(sealer.cached_workspaces().is_empty());
}

#[tokio::test]
async fn forget_workspace_drops_its_keys_and_keeps_the_others() {
    let c = clients();
    let (ws_a, a_text, key_a) = workspace(&c).await;
    let (ws_b, b_text, key_b) = workspace(&c).await;
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let in_a = field(&a_text, "mailbox", "mb_1", "smtp_password");
    let in_b = field(&b_text, "mailbox", "mb_1", "smtp_password");
    let sealed_a = sealer.seal(ws_a, &key_a, PURPOSE, &in_a, b"a").await.unwrap();
    sealer.seal(ws_a, &key_a, "oauth-tokens", &in_a, b"a2").await.unwrap();
    let sealed_b = sealer.seal(ws_b, &key_b, PURPOSE, &in_b, b"b").await.unwrap();
    let mut both = vec![ws_a, ws_b];
    both.sort();
    assert_eq!(sealer.cached_workspaces(), both);

    sealer.forget_workspace(ws_a);
    assert_eq!(sealer.cached_workspaces(), vec![ws_b]);
    assert_eq!(sealer.cached_entries(ws_a), 0);
    assert_eq!(sealer.cached_entries(ws_b), 2);

    // B still opens from the cache; A must go back to KMS.
    let decrypts = kms_requests(&c, "Decrypt");
    sealer.open(ws_b, PURPOSE, &in_b, &sealed_b).await.unwrap();
    assert_eq!(kms_requests(&c, "Decrypt"), decrypts);
    sealer.open(ws_a, PURPOSE, &in_a, &sealed_a).await.unwrap();
    assert_eq!(kms_requests(&c, "Decrypt"), decrypts + 1);
}

/// Crypto-shredding. Note: moto, unlike AWS, still decrypts under a disabled or
/// pending-deletion key, so this asserts the key's state, not a refusal. On AWS
/// `Decrypt` then fails with DisabledException / KMSInvalidStateException, which
/// the sealer reports as `SealingError::KeyUnavailable`.
#[tokio::test]
async fn scheduling_deletion_disables_the_workspace_key() {
    let c = clients();
    let (ws, _, key) = workspace(&c).await;
    for days in [0, 6, 31] {
        assert!(matches!(schedule_workspace_key_deletion(&c.kms, &ws.to_string(), &key, days).await, Err(SealingError::Invalid(_))));
    }
    // Another workspace's id (a wrong or planted deletion record): refused, the key untouched.
    let other = WorkspaceId::generate().to_string();
    assert!(matches!(schedule_workspace_key_deletion(&c.kms, &other, &key, 7).await, Err(SealingError::NotThisWorkspace { .. })));
    assert!(c.kms.describe_key().key_id(&key).send().await.unwrap().key_metadata.unwrap().enabled);
    schedule_workspace_key_deletion(&c.kms, &ws.to_string(), &key, 7).await.unwrap();
    let meta = c.kms.describe_key().key_id(&key).send().await.unwrap().key_metadata.unwrap();
    assert!(!meta.enabled);
    assert_eq!(meta.key_state, Some(aws_sdk_kms::types::KeyState::PendingDeletion));
    assert!(meta.deletion_date.is_some());
    // A retried deletion job succeeds without touching the key again.
    schedule_workspace_key_deletion(&c.kms, &ws.to_string(), &key, 7).await.unwrap();
    // The alias still names the (now shredding) key: creating "again" must not
    // silently hand out a fresh key for a deleted workspace's id.
    assert_eq!(create_workspace_key(&c.kms, ws).await.unwrap(), key);
}

#[tokio::test]
async fn kms_failures_are_typed_errors() {
    let c = clients();
    let ws = WorkspaceId::generate();
    let ws_text = ws.to_string();
    let sealer = Sealer::new(c.kms.clone(), DEFAULT_CACHE_TTL);
    let id = field(&ws_text, "mailbox", "mb_1", "smtp_password");
    let missing = sealer.seal(ws, "alias/tern/ws/does-not-exist", PURPOSE, &id, b"x").await.unwrap_err();
    assert!(matches!(missing, SealingError::Kms(_)), "{missing:?}");
    // Nothing is cached for a failed fetch, so the next call tries again.
    assert!(sealer.cached_workspaces().is_empty());
    assert!(matches!(sealer.seal(ws, "k", "Not A Purpose", &id, b"x").await, Err(SealingError::Invalid(_))));
}
