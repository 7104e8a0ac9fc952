//! Exactly once under crashes: the send worker is killed at every point between
//! claim and record, and its providers fail (SMTP 451 after the data, a connection
//! dropped before the final reply), in randomised runs with fixed seeds. At the end
//! every step went out exactly once: counted by Message-ID at a real SMTP server and
//! by moto's SES `GetSendQuota`. Steps whose fate the worker could not know were
//! parked with a visible state, and a person (the test, checking the "Sent folder")
//! resolved them; nothing was silently dropped or sent twice.

use crate::outreach::{SMTP_PASSWORD, header, ok, set_clock, sign_up, token};
use reqwest::Method;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tern_devhost::{DevHost, MailDelivery};
use tern_domain::clock::Clock;
use tern_mailsink::{Behaviour, MailSink, SinkOptions, TlsMode};
use tern_send::faults::{FaultPoint, Faults};
use tern_tests::{call, start_dev_host_custom};
use time::macros::datetime;

/// A small deterministic generator: the same seed replays the same crashes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const CONTACTS: usize = 8;

#[tokio::test]
async fn crashes_and_provider_failures_between_claim_and_record_never_double_send_or_lose_a_step() {
    let mut crashes: BTreeMap<FaultPoint, u32> = BTreeMap::new();
    let mut totals = (0, 0, 0);
    for seed in [0x5eed_0001_u64, 0x5eed_0002, 0x5eed_0003] {
        let (seed_crashes, parked, ambiguous, transient) = run(seed).await;
        for (point, n) in seed_crashes {
            *crashes.entry(point).or_default() += n;
        }
        totals = (totals.0 + parked, totals.1 + ambiguous, totals.2 + transient);
    }
    // The runs together really exercised what the test claims.
    assert!(FaultPoint::ALL.iter().all(|p| crashes.get(p).copied().unwrap_or(0) > 0), "crashes at every point: {crashes:?}");
    let (parked, ambiguous, transient) = totals;
    assert!(parked > 0 && ambiguous > 0 && transient > 0, "parked {parked}, ambiguous {ambiguous}, transient {transient}");
}

async fn run(seed: u64) -> (BTreeMap<FaultPoint, u32>, u32, u32, u32) {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom("exactly-once", move |options| {
        options.mail_delivery = MailDelivery {
            policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(port),
            extra_roots: vec![cert],
            resolver: None,
        };
        // The test is the send worker and the dispatch schedule here.
        options.manual_functions = vec!["SendFunction".into(), "DispatchFunction".into()];
        // SES's send count is per region in the stand-in: a region of its own keeps
        // other tests' sends out of this test's count.
        options.region = Some("eu-central-1".into());
    })
    .await;
    set_clock(&host, datetime!(2027-06-07 10:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let sequences = setup(&host, &owner, &ws, &sink).await;
    let ses_before = ses_sent(&host).await;

    let smtp = tern_send::smtp::SmtpClient::new(
        tern_web::guard::Policy::mail().allow_loopback_for_tests(port),
        Arc::new(tern_web::fetch::SystemResolver),
    )
    .with_extra_root(sink.certificate_der());
    let mut deps = tern_send::SendDeps::new(tern_tests::platform_of(&host), smtp);
    let dispatch = tern_tests::platform_of(&host);
    let queue = host.config.queue_url(tern_aws::QueueName::Send).unwrap().to_string();
    // One set of look-up clients for the whole run: a fresh set per round would open
    // new connections every time.
    let sqs = tern_tests::observe(&host).sqs;

    let mut rng = Rng(seed);
    // Send ids whose SES call certainly happened before the worker died.
    let mut ses_called: BTreeSet<String> = BTreeSet::new();
    let mut crashes: BTreeMap<FaultPoint, u32> = BTreeMap::new();
    let (mut parked_resolved, mut ambiguous, mut transient) = (0, 0, 0);
    for round in 0..400 {
        let report = tern_dispatch::handle(&dispatch, Default::default()).await.expect("dispatch runs");
        let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        for message in &messages {
            let job: tern_domain::jobs::SendJob = serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
            let send_id = tern_aws::outreach::SendRecord::id_for(&job.enrollment_id, job.step);
            let crash_at = rng.chance(40).then(|| rng.pick(&FaultPoint::ALL));
            let behaviour = if rng.chance(12) {
                transient += 1;
                Behaviour::TempFailData
            } else if rng.chance(12) {
                ambiguous += 1;
                Behaviour::DropAfterData
            } else {
                Behaviour::Accept
            };
            sink.set_behaviour(behaviour);
            let crashed = Arc::new(AtomicBool::new(false));
            let flag = crashed.clone();
            deps.faults = Faults::inject(move |point| {
                let hit = Some(point) == crash_at;
                flag.fetch_or(hit, Ordering::SeqCst);
                hit
            });
            let outcome = tern_send::send_step(&deps, &job).await;
            if crashed.load(Ordering::SeqCst) {
                *crashes.entry(crash_at.unwrap()).or_default() += 1;
                if matches!(crash_at, Some(FaultPoint::AfterProvider | FaultPoint::AfterRecord)) {
                    ses_called.insert(send_id.clone());
                }
            }
            if outcome.is_ok() {
                sqs.delete_message().queue_url(&queue).receipt_handle(message.receipt_handle.as_deref().unwrap()).send().await.unwrap();
            } else {
                // A dead worker's message comes back after its visibility timeout.
                sqs.change_message_visibility()
                    .queue_url(&queue)
                    .receipt_handle(message.receipt_handle.as_deref().unwrap())
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            }
        }
        sink.set_behaviour(Behaviour::Accept);
        let resolved = resolve_parked(&host, email, &ws, &sink, &ses_called).await;
        parked_resolved += resolved;
        if messages.is_empty() && resolved == 0 && report.steps_due == 0 {
            if all_finished(&host, email, &ws).await {
                break;
            }
            // Nothing due now: time passes (leases run out, follow-ups come due).
            host.clock.advance(time::Duration::hours(6)).unwrap();
        } else {
            // Long enough for a dead worker's claim lease to run out.
            host.clock.advance(time::Duration::minutes(3)).unwrap();
        }
        assert!(round < 399, "seed {seed:#x}: the sequences did not finish");
    }

    // Every step of every SMTP enrollment reached the server exactly once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for message in sink.messages() {
        *seen.entry(header(&message.data, "Message-ID").unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), CONTACTS * 2, "seed {seed:#x}: every SMTP step arrived: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "seed {seed:#x}: no SMTP step arrived twice: {seen:?}");
    // And every SES step was handed to SES exactly once.
    assert_eq!(ses_sent(&host).await - ses_before, (CONTACTS * 2) as u64, "seed {seed:#x}: SES sends");
    let _ = sequences;
    host.stop().await;
    (crashes, parked_resolved, ambiguous, transient)
}

/// Two mailboxes (SMTP and SES), a two-step sequence on each, every contact in both.
async fn setup(host: &DevHost, owner: &str, ws: &str, sink: &MailSink) -> Vec<String> {
    let limits = json!({ "daily_cap": 10000, "warmup_start": 10000, "per_domain_hourly": 10000, "min_spacing_seconds": 0 });
    let mut smtp = json!({
        "name": "SMTP", "from_name": "Ann", "from_email": "ann@acme.example", "timezone": "UTC",
        "provider": { "kind": "smtp", "host": "127.0.0.1", "port": sink.port(), "security": "start_tls", "username": "ann", "password": SMTP_PASSWORD },
    });
    let mut ses =
        json!({ "name": "SES", "from_name": "Ann", "from_email": "ann@acme.example", "timezone": "UTC", "provider": { "kind": "ses" } });
    for mailbox in [&mut smtp, &mut ses] {
        mailbox.as_object_mut().unwrap().extend(limits.as_object().unwrap().clone());
    }
    let template = ok(
        host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates"),
        owner,
        json!({ "name": "t", "subject": "Hello {{first_name | there}}", "text": "Hi {{first_name | there}}!" }),
    )
    .await;
    let always = json!({ "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], "opens": "00:00", "closes": "23:59" });
    let mut sequences = Vec::new();
    for mailbox in [smtp, ses] {
        let mailbox = ok(host, Method::POST, &format!("/v1/workspaces/{ws}/mailboxes"), owner, mailbox).await;
        let sequence = ok(
            host,
            Method::POST,
            &format!("/v1/workspaces/{ws}/sequences"),
            owner,
            json!({
                "name": "s", "mailbox_id": mailbox["id"], "timezone": "UTC", "window": always,
                "steps": [{ "template_id": template["id"] }, { "template_id": template["id"], "business_days": 1 }],
            }),
        )
        .await;
        sequences.push(sequence["id"].as_str().unwrap().to_string());
    }
    let mut ids = Vec::new();
    for i in 0..CONTACTS {
        let contact = ok(
            host,
            Method::POST,
            &format!("/v1/workspaces/{ws}/contacts"),
            owner,
            json!({ "email": format!("lead{i}@customer{i}.example"), "first_name": format!("Lead{i}") }),
        )
        .await;
        ids.push(contact["id"].clone());
    }
    for sequence in &sequences {
        let enrolled =
            ok(host, Method::POST, &format!("/v1/workspaces/{ws}/sequences/{sequence}/enrollments"), owner, json!({ "contact_ids": ids }))
                .await;
        assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), CONTACTS, "{enrolled}");
    }
    sequences
}

async fn ses_sent(host: &DevHost) -> u64 {
    tern_tests::observe(host).ses.get_send_quota().send().await.unwrap().sent_last24_hours as u64
}

/// What a person does with a parked send: look for its Message-ID in the Sent
/// folder (here: the SMTP server, or what the test knows SES was handed) and say.
async fn resolve_parked(host: &DevHost, email: &str, ws: &str, sink: &MailSink, ses_called: &BTreeSet<String>) -> u32 {
    let owner = token(host, email).await;
    let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/sends?state=parked&limit=100"), Some(&owner), None).await;
    let delivered: BTreeSet<String> =
        sink.messages().iter().filter_map(|m| header(&m.data, "Message-ID")).map(|id| id.trim_matches(['<', '>']).to_string()).collect();
    let mut resolved = 0;
    for send in page["sends"].as_array().unwrap() {
        let id = send["id"].as_str().unwrap();
        let left = delivered.contains(send["message_id"].as_str().unwrap()) || ses_called.contains(id);
        let outcome = if left { "sent" } else { "not_sent" };
        ok(host, Method::POST, &format!("/v1/workspaces/{ws}/sends/{id}/resolve"), &owner, json!({ "outcome": outcome })).await;
        resolved += 1;
    }
    resolved
}

async fn all_finished(host: &DevHost, email: &str, ws: &str) -> bool {
    let owner = token(host, email).await;
    let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?limit=100"), Some(&owner), None).await;
    let enrollments = page["enrollments"].as_array().unwrap();
    assert_eq!(enrollments.len(), CONTACTS * 2);
    let stopped: Vec<_> = enrollments.iter().filter(|e| e["state"]["state"] == "stopped").collect();
    assert!(stopped.is_empty(), "no enrollment stops for a provider hiccup: {stopped:?}");
    enrollments.iter().all(|e| e["state"]["state"] == "finished")
}

/// A dev host whose send worker and dispatch schedule the test runs by hand.
async fn manual_host(name: &str, sink: &MailSink) -> (DevHost, tern_send::SendDeps, tern_aws::Platform) {
    let (port, cert) = (sink.port(), sink.certificate_der());
    let host = start_dev_host_custom(name, move |options| {
        options.mail_delivery = MailDelivery {
            policy: tern_web::guard::Policy::mail().allow_loopback_for_tests(port),
            extra_roots: vec![cert],
            resolver: None,
        };
        options.manual_functions = vec!["SendFunction".into(), "DispatchFunction".into()];
    })
    .await;
    let smtp = tern_send::smtp::SmtpClient::new(
        tern_web::guard::Policy::mail().allow_loopback_for_tests(port),
        Arc::new(tern_web::fetch::SystemResolver),
    )
    .with_extra_root(sink.certificate_der());
    let send = tern_send::SendDeps::new(tern_tests::platform_of(&host), smtp);
    let dispatch = tern_tests::platform_of(&host);
    (host, send, dispatch)
}

/// Runs every queued send job once, as the SQS event source would; returns how many.
async fn drain(host: &DevHost, send: &tern_send::SendDeps) -> usize {
    let queue = host.config.queue_url(tern_aws::QueueName::Send).unwrap().to_string();
    let sqs = tern_tests::observe(host).sqs;
    let mut handled = 0;
    loop {
        let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return handled;
        }
        for message in messages {
            let job: tern_domain::jobs::SendJob = serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
            tern_send::send_step(send, &job).await.expect("no failures injected here");
            sqs.delete_message().queue_url(&queue).receipt_handle(message.receipt_handle.unwrap()).send().await.unwrap();
            handled += 1;
        }
    }
}

#[tokio::test]
async fn overlapping_ticks_queue_a_step_once_and_a_reply_after_it_was_queued_still_prevents_it() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (host, send, dispatch) = manual_host("queued-reply", &sink).await;
    set_clock(&host, datetime!(2027-06-07 10:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    setup(&host, &owner, &ws, &sink).await;
    let first = tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    assert_eq!(first.steps_enqueued, (CONTACTS * 2) as u64);
    assert_eq!(drain(&host, &send).await, CONTACTS * 2);
    assert_eq!(sink.count(), CONTACTS);

    // The follow-up comes due; two ticks overlap (a slow one and the next minute's).
    // DynamoDB serialises the two conditional lease writes on one item, so each step
    // is queued once. moto does not (its server handles requests on threads without a
    // lock), so here a step may occasionally be queued twice; that case is exactly
    // what the send worker's claim absorbs, and the sink's count below shows it did.
    host.clock.advance(time::Duration::days(1)).unwrap();
    let (a, b) = tokio::join!(tern_dispatch::handle(&dispatch, Default::default()), tern_dispatch::handle(&dispatch, Default::default()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.steps_enqueued + b.steps_enqueued >= (CONTACTS * 2) as u64, "every due step queued: {a:?} {b:?}");
    assert!(a.steps_skipped + b.steps_skipped > 0, "the ticks did overlap: {a:?} {b:?}");
    // The lease itself, without a race: a second lease on what was seen is refused.
    let index = tern_aws::outreach::store::DueIndex::new(tern_tests::observe(&host).dynamodb.clone(), host.config.table.clone());
    let lease_at = host.clock.now().unix_timestamp();
    let mut seen = Vec::new();
    for shard in 0..tern_aws::outreach::DUE_SHARDS {
        seen.extend(index.due(shard, lease_at + 16 * 60, 100).await.unwrap());
    }
    let step = seen.first().expect("leased steps are in the index until sent").clone();
    assert!(index.lease(&step, lease_at + 1).await.unwrap());
    assert!(!index.lease(&step, lease_at + 2).await.unwrap(), "a lease on a changed due time is refused");

    // Lead 0 answers the first e-mail while its follow-up waits in the queue.
    let original = crate::outreach::to(&sink, "lead0@customer0.example").remove(0);
    crate::outreach::reply_from(&host, &ws, "lead0@customer0.example", &original).await;
    let stopped = tern_tests::eventually("the reply stops the enrollment", std::time::Duration::from_secs(30), || {
        let (host, ws) = (&host, &ws);
        async move {
            let owner = token(host, email).await;
            let (_, page) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?limit=100"), Some(&owner), None).await;
            page["enrollments"].as_array().unwrap().iter().find(|e| e["state"]["reason"] == "replied").cloned()
        }
    })
    .await;
    assert!(drain(&host, &send).await >= CONTACTS * 2);
    assert_eq!(crate::outreach::to(&sink, "lead0@customer0.example").len(), 1, "the queued follow-up was not sent: {stopped}");
    assert_eq!(sink.count(), CONTACTS * 2 - 1);
    host.stop().await;
}

#[tokio::test]
async fn sending_limits_defer_steps_to_the_next_allowed_slot_and_never_drop_them() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (host, send, dispatch) = manual_host("limits", &sink).await;
    // Monday 7 June 2027, 10:00 UTC = 12:00 in Berlin.
    set_clock(&host, datetime!(2027-06-07 10:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let template = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates"),
        &owner,
        json!({ "name": "t", "subject": "Hi", "text": "Hello" }),
    )
    .await;
    let always = json!({ "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], "opens": "00:00", "closes": "23:59" });
    let mut sequences = Vec::new();
    // A mailbox capped at two a day (counted in Berlin), and one that waits ten minutes between sends.
    // …and one that sends at most one an hour to any one recipient domain.
    for limits in [
        json!({ "daily_cap": 2, "warmup_start": 2, "min_spacing_seconds": 0 }),
        json!({ "daily_cap": 100, "warmup_start": 100, "min_spacing_seconds": 600 }),
        json!({ "daily_cap": 100, "warmup_start": 100, "min_spacing_seconds": 0, "per_domain_hourly": 1 }),
    ] {
        let mut mailbox = json!({
            "name": "m", "from_email": "ann@acme.example", "timezone": "Europe/Berlin",
            "provider": { "kind": "smtp", "host": "127.0.0.1", "port": sink.port(), "security": "start_tls", "username": "ann", "password": SMTP_PASSWORD },
        });
        mailbox.as_object_mut().unwrap().extend(limits.as_object().unwrap().clone());
        let mailbox = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/mailboxes"), &owner, mailbox).await;
        let sequence = ok(
            &host,
            Method::POST,
            &format!("/v1/workspaces/{ws}/sequences"),
            &owner,
            json!({
                "name": "s", "mailbox_id": mailbox["id"], "timezone": "UTC", "window": always, "steps": [{ "template_id": template["id"] }],
            }),
        )
        .await;
        sequences.push(sequence["id"].as_str().unwrap().to_string());
    }
    let mut contacts = Vec::new();
    for i in 0..3 {
        let contact =
            ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": format!("l{i}@c{i}.example") }))
                .await;
        contacts.push(contact["id"].clone());
    }
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequences[0]),
        &owner,
        json!({ "contact_ids": contacts }),
    )
    .await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequences[1]),
        &owner,
        json!({ "contact_ids": contacts[..2] }),
    )
    .await;
    let mut colleagues = Vec::new();
    for name in ["a", "b"] {
        let contact =
            ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": format!("{name}@same.example") }))
                .await;
        colleagues.push(contact["id"].clone());
    }
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequences[2]),
        &owner,
        json!({ "contact_ids": colleagues }),
    )
    .await;
    let deferred = |sequence: String| {
        let (host, ws) = (&host, &ws);
        async move {
            let owner = token(host, email).await;
            let (_, page) =
                call(host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?sequence_id={sequence}"), Some(&owner), None).await;
            page["enrollments"].as_array().unwrap().iter().filter(|e| e["state"]["state"] == "active").cloned().collect::<Vec<_>>()
        }
    };
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(sink.count(), 4, "two under the daily cap, one under the spacing, one under the domain limit");
    let per_domain = deferred(sequences[2].clone()).await;
    assert_eq!(per_domain.len(), 1);
    assert_eq!(
        per_domain[0]["next_due_at"].as_i64(),
        Some(datetime!(2027-06-07 11:00 UTC).unix_timestamp()),
        "the next hour: {per_domain:?}"
    );

    let capped = deferred(sequences[0].clone()).await;
    assert_eq!(capped.len(), 1);
    // Midnight in Berlin (CEST) is 22:00 UTC.
    assert_eq!(capped[0]["next_due_at"].as_i64(), Some(datetime!(2027-06-07 22:00 UTC).unix_timestamp()), "{capped:?}");
    assert!(capped[0]["note"].as_str().unwrap().contains("daily limit"));
    let spaced = deferred(sequences[1].clone()).await;
    assert_eq!(spaced.len(), 1);
    let due = spaced[0]["next_due_at"].as_i64().unwrap();
    let now = datetime!(2027-06-07 10:00 UTC).unix_timestamp();
    assert!((now + 600..now + 660).contains(&due), "ten minutes after the first send: {spaced:?}");

    // The deferred steps go out at their slots.
    host.clock.advance(time::Duration::minutes(11)).unwrap();
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(sink.count(), 5, "the spaced one");
    set_clock(&host, datetime!(2027-06-07 22:00:30 UTC));
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(sink.count(), 7, "the capped one the next local day, and the other colleague the next hour");
    for sequence in &sequences {
        assert!(deferred(sequence.clone()).await.is_empty(), "nothing was dropped or left behind");
    }
    host.stop().await;
}

#[tokio::test]
async fn bounces_and_complaints_suppress_and_an_out_of_office_pauses_until_the_stated_return() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (host, send, dispatch) = manual_host("feedback", &sink).await;
    // Monday 7 June 2027.
    set_clock(&host, datetime!(2027-06-07 10:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let sequences = setup(&host, &owner, &ws, &sink).await;
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    assert_eq!(drain(&host, &send).await, CONTACTS * 2);
    let enrollments = |who: &'static str| {
        let (host, ws) = (&host, &ws);
        async move {
            let owner = token(host, email).await;
            let (_, contacts) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/contacts?q={who}"), Some(&owner), None).await;
            let contact = contacts["contacts"][0].clone();
            let (_, page) = call(
                host,
                Method::GET,
                &format!("/v1/workspaces/{ws}/enrollments?contact_id={}", contact["id"].as_str().unwrap()),
                Some(&owner),
                None,
            )
            .await;
            (contact, page["enrollments"].as_array().unwrap().clone())
        }
    };

    // SES reports a hard bounce of lead1's SES message (a configuration-set event, via SNS and the feedback queue).
    let (lead1, _) = enrollments("lead1@").await;
    let ses_enrollment = format!("{}.{}", sequences[1], lead1["id"].as_str().unwrap());
    let event = json!({
        "eventType": "Bounce",
        "bounce": { "bounceType": "Permanent", "bounceSubType": "NoEmail", "bouncedRecipients": [{ "emailAddress": "lead1@customer1.example", "status": "5.1.1" }] },
        "mail": { "messageId": "ses-1", "tags": { "workspace": [ws.clone()], "enrollment": [tern_mail::ses::enrollment_tag_value(&ses_enrollment)] } },
    });
    let envelope = json!({ "Type": "Notification", "Message": event.to_string() });
    let queue = host.config.queue_url(tern_aws::QueueName::Feedback).unwrap();
    tern_tests::observe(&host).sqs.send_message().queue_url(queue).message_body(envelope.to_string()).send().await.unwrap();
    let suppressed = tern_tests::eventually("the hard bounce suppresses lead1", std::time::Duration::from_secs(30), || async {
        let (contact, enrollments) = enrollments("lead1@").await;
        let owner = token(&host, email).await;
        let (_, view) =
            call(&host, Method::GET, &format!("/v1/workspaces/{ws}/contacts/{}", contact["id"].as_str().unwrap()), Some(&owner), None)
                .await;
        (view["suppressed"] == true && enrollments.iter().all(|e| e["state"]["reason"] == "bounced")).then_some(view)
    })
    .await;
    assert_eq!(suppressed["email"], "lead1@customer1.example");

    // An inbound bounce (a DSN quoting lead3's message) does the same.
    let original = crate::outreach::to(&sink, "lead3@customer3.example").remove(0);
    let message_id = header(&original, "Message-ID").unwrap();
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer3.example>\r\nTo: ann@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Date: Mon, 7 Jun 2027 10:05:00 +0000\r\nMessage-ID: <dsn-1@mx.customer3.example>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n<lead3@customer3.example>: host mx.customer3.example said: 550 5.1.1 User unknown\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer3.example\r\n\r\nFinal-Recipient: rfc822; lead3@customer3.example\r\nAction: failed\r\n\
         Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n\
         From: Ann <ann@acme.example>\r\nTo: lead3@customer3.example\r\nSubject: Hello Lead3\r\n\r\n--b--\r\n"
    );
    post_inbound(&host, &ws, dsn.as_bytes()).await;
    tern_tests::eventually("the inbound bounce suppresses lead3", std::time::Duration::from_secs(30), || async {
        let (_, enrollments) = enrollments("lead3@").await;
        enrollments.iter().all(|e| e["state"]["reason"] == "bounced").then_some(())
    })
    .await;

    // Lead2 is out of office until Monday 14 June: its follow-up waits until the next business day.
    let original = crate::outreach::to(&sink, "lead2@customer2.example").remove(0);
    let message_id = header(&original, "Message-ID").unwrap();
    let ooo = format!(
        "From: Lead2 <lead2@customer2.example>\r\nTo: ann@acme.example\r\nSubject: Automatic reply: Hello Lead2\r\nDate: Mon, 7 Jun 2027 10:02:00 +0000\r\n\
         Message-ID: <ooo-2@customer2.example>\r\nIn-Reply-To: {message_id}\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThank you for your message. I am out of the office until Monday, 14 June 2027 with no access to e-mail.\r\n"
    );
    post_inbound(&host, &ws, ooo.as_bytes()).await;
    let paused = tern_tests::eventually("the out-of-office pauses lead2", std::time::Duration::from_secs(30), || async {
        let (_, enrollments) = enrollments("lead2@").await;
        enrollments.into_iter().find(|e| e["state"]["state"] == "paused")
    })
    .await;
    // Back on Monday 14 June; resumes on Tuesday 15 June at the window's opening (00:00 UTC here).
    assert_eq!(paused["next_due_at"].as_i64(), Some(datetime!(2027-06-15 00:00 UTC).unix_timestamp()), "{paused}");
    let smtp_paused = paused["id"].as_str().unwrap().to_string();

    // The follow-ups come due on Tuesday 8 June: everyone but the bounced and the absent.
    set_clock(&host, datetime!(2027-06-08 10:01 UTC));
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(crate::outreach::to(&sink, "lead2@customer2.example").len(), 1, "paused");
    assert_eq!(crate::outreach::to(&sink, "lead3@customer3.example").len(), 1, "suppressed");
    assert_eq!(crate::outreach::to(&sink, "lead4@customer4.example").len(), 2);
    set_clock(&host, datetime!(2027-06-15 00:01 UTC));
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(crate::outreach::to(&sink, "lead2@customer2.example").len(), 2, "resumed after the return date");
    let owner = token(&host, email).await;
    let (_, resumed) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments/{smtp_paused}"), Some(&owner), None).await;
    assert_eq!(resumed["state"]["state"], "finished", "{resumed}");
    let (_, mailboxes) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/mailboxes"), Some(&owner), None).await;
    let bounces: u64 = mailboxes["mailboxes"].as_array().unwrap().iter().map(|m| m["hard_bounces"].as_u64().unwrap()).sum();
    assert_eq!(bounces, 2, "each hard bounce counts against its mailbox: {mailboxes}");
    host.stop().await;
}

async fn post_inbound(host: &DevHost, ws: &str, message: &[u8]) {
    let (content_type, body) = tern_tests::cloudmailin_raw_post(message, &format!("reply+{ws}@in.tern.test"));
    let response = reqwest::Client::new()
        .post(format!("{}/inbound/raw", host.base_url()))
        .basic_auth("cloudmailin", Some(tern_tests::WEBHOOK_SECRET))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_refusing_server_stops_the_step_with_its_reason_and_own_domains_need_the_plan_and_verification() {
    let sink =
        MailSink::start(SinkOptions { mode: TlsMode::StartTls, credentials: Some(("ann".into(), SMTP_PASSWORD.into())) }).await.unwrap();
    let (host, send, dispatch) = manual_host("refusals", &sink).await;
    set_clock(&host, datetime!(2027-06-07 10:00 UTC));
    let email = "ann@acme.example";
    let (owner, ws) = sign_up(&host, email, "growth").await;
    let sequences = setup(&host, &owner, &ws, &sink).await;
    // The server refuses every recipient with a 550: permanent, so the steps stop with the reason.
    sink.set_behaviour(Behaviour::PermFailRcpt);
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    assert_eq!(sink.count(), 0);
    let (_, failed) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/sends?state=failed&limit=100"), Some(&owner), None).await;
    assert_eq!(failed["sends"].as_array().unwrap().len(), CONTACTS, "{failed}");
    assert!(failed["sends"][0]["reason"].as_str().unwrap().contains("550"), "{failed}");
    let (_, stopped) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}/enrollments?sequence_id={}&limit=100", sequences[0]), Some(&owner), None)
            .await;
    assert!(stopped["enrollments"].as_array().unwrap().iter().all(|e| e["state"]["reason"] == "failed"), "{stopped}");

    // SES sends went out from the platform's domain (no own domain yet).
    let (_, sent) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/sends?state=sent&limit=100"), Some(&owner), None).await;
    assert!(sent["sends"].as_array().unwrap().iter().all(|s| s["message_id"].as_str().unwrap().ends_with("@send.tern.test")), "{sent}");
    // An own sending domain must be proven by this workspace (DNS TXT) and verified in
    // SES, and is for growth plans and above.
    let domain = format!("acme-{}.example", &ws[ws.len() - 8..]);
    let zone = tern_tests::dns::Zone::default();
    crate::sending_domains::give_dns(&host, &zone).await;
    let (status, error) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&owner), Some(json!({ "sending_domain": domain }))).await;
    assert_eq!((status.as_u16(), error["error"]["code"].as_str()), (422, Some("domain_not_claimed")), "{error}");
    crate::sending_domains::prove_domain(&host, &owner, &ws, &domain, &zone).await;
    let (status, error) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(&owner), Some(json!({ "sending_domain": domain }))).await;
    assert_eq!((status.as_u16(), error["error"]["code"].as_str()), (422, Some("domain_not_verified")), "{error}");
    tern_tests::observe(&host).ses.verify_domain_identity().domain(&domain).send().await.unwrap();
    ok(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), &owner, json!({ "sending_domain": domain })).await;
    let (trial, trial_ws) = sign_up(&host, "tim@trial.example", "trial").await;
    let (status, error) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{trial_ws}"), Some(&trial), Some(json!({ "sending_domain": "trial.example" })))
            .await;
    assert_eq!((status.as_u16(), error["error"]["code"].as_str()), (422, Some("plan_required")), "{error}");
    // A mailbox on that domain now sends from it.
    let mailbox = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/mailboxes"), &owner, json!({
        "name": "own", "from_email": format!("ann@{domain}"), "timezone": "UTC", "provider": { "kind": "ses" }, "min_spacing_seconds": 0,
    }))
    .await;
    let template = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/templates"),
        &owner,
        json!({ "name": "own", "subject": "Hi", "text": "Hello" }),
    )
    .await;
    let always = json!({ "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], "opens": "00:00", "closes": "23:59" });
    let sequence = ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences"),
        &owner,
        json!({
            "name": "own", "mailbox_id": mailbox["id"], "timezone": "UTC", "window": always, "steps": [{ "template_id": template["id"] }],
        }),
    )
    .await;
    let contact = ok(&host, Method::POST, &format!("/v1/workspaces/{ws}/contacts"), &owner, json!({ "email": "new@lead.example" })).await;
    ok(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/sequences/{}/enrollments", sequence["id"].as_str().unwrap()),
        &owner,
        json!({ "contact_ids": [contact["id"]] }),
    )
    .await;
    tern_dispatch::handle(&dispatch, Default::default()).await.unwrap();
    drain(&host, &send).await;
    let (_, sent) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/sends?state=sent&limit=100"), Some(&owner), None).await;
    let own =
        sent["sends"].as_array().unwrap().iter().filter(|s| s["message_id"].as_str().unwrap().ends_with(&format!("@{domain}"))).count();
    assert_eq!(own, 1, "{sent}");
    host.stop().await;
}
