//! Attacks on sign-in and on the checks a signed-in user passes again (issue 12,
//! findings 4, 5, 6 and 11), each performed through the dev host's port.
//!
//! Parallel guessing is done in bursts of concurrent requests with the dev clock
//! moved a minute on between bursts (past every growing delay, within the 15-minute
//! window). However the requests of a burst interleave and however slow the machine
//! is, every guess that is checked is counted first, so exactly the lockout
//! threshold of them is ever checked: the counts asserted do not depend on timing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use tern_devhost::DevHost;
use tern_tests::{call, start_dev_host, totp};

const PASSWORD: &str = "correct horse battery staple 42";
/// `ThrottlePolicy::ACCOUNT.lockout_threshold`: failures that lock an account.
const LOCKOUT_THRESHOLD: usize = 10;

struct Account {
    access: String,
    workspace: String,
}

async fn sign_up(host: &DevHost, email: &str) -> Account {
    let body = json!({ "email": email, "password": PASSWORD, "name": "Ann Example", "workspace_name": "Acme" });
    // Through the shared helper: sign-up mails a link, which it follows.
    let body = tern_tests::sign_up(host, body).await;
    Account { access: body["access_token"].as_str().unwrap().into(), workspace: body["workspace_id"].as_str().unwrap().into() }
}

async fn advance(host: &DevHost, seconds: i64) {
    let response = reqwest::Client::new()
        .post(format!("{}/_dev/clock/advance", host.base_url()))
        .json(&json!({ "seconds": seconds }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// One request, owned, so it can run on its own task.
fn request(
    host: &DevHost,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> impl Future<Output = (StatusCode, Value)> + Send + 'static {
    let url = format!("{}{path}", host.base_url());
    let token = token.map(String::from);
    async move {
        let mut request = reqwest::Client::new().request(method, url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the dev host answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn code_of(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or_default())
}

/// Runs `width` copies of the request at once, burst after burst with the clock a
/// minute on in between, until a whole burst is refused (the account is locked).
/// Every answer must be either `wrong` (the guess was checked) or 429
/// `too_many_attempts` (refused unchecked). Returns how many were checked.
async fn guess_in_bursts<F, Fut>(host: &DevHost, width: usize, wrong: (StatusCode, &str), mut guess: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (StatusCode, Value)> + Send + 'static,
{
    let mut checked = 0;
    for _ in 0..3 * LOCKOUT_THRESHOLD {
        let tasks: Vec<_> = (0..width).map(|_| tokio::spawn(guess())).collect();
        let mut checked_now = 0;
        for task in tasks {
            let answer = task.await.unwrap();
            match code_of(&answer) {
                found if found == wrong => checked_now += 1,
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts") => {}
                _ => panic!("unexpected answer to a guess: {answer:?}"),
            }
        }
        checked += checked_now;
        if checked_now == 0 {
            return checked;
        }
        advance(host, 61).await;
    }
    panic!("never locked after {checked} checked guesses");
}

fn sign_in_body(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

async fn sign_in(host: &DevHost, body: Value) -> (StatusCode, Value) {
    call(host, Method::POST, "/v1/sessions", None, Some(body)).await
}

#[tokio::test]
async fn forty_parallel_wrong_passwords_are_all_counted_and_the_right_one_is_then_refused() {
    let host = start_dev_host("parallel-guess").await;
    sign_up(&host, "ann@acme.example").await;
    let checked = guess_in_bursts(&host, 40, (StatusCode::UNAUTHORIZED, "unauthorized"), || {
        request(&host, Method::POST, "/v1/sessions", None, sign_in_body("ann@acme.example", "wrong password, sorry"))
    })
    .await;
    assert_eq!(checked, LOCKOUT_THRESHOLD, "each checked guess was counted before it was checked");
    let answer = sign_in(&host, sign_in_body("ann@acme.example", PASSWORD)).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "locked: the right password is refused unchecked");
    advance(&host, 16 * 60).await;
    assert_eq!(sign_in(&host, sign_in_body("ann@acme.example", PASSWORD)).await.0, StatusCode::OK, "the lockout ends");
    host.stop().await;
}

/// Turns 2FA on for the signed-in account; returns the secret and recovery codes.
async fn enable_two_factor(host: &DevHost, access: &str) -> (String, Vec<String>) {
    let (status, setup) = call(host, Method::POST, "/v1/me/2fa/setup", Some(access), Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    let (status, confirmed) =
        call(host, Method::POST, "/v1/me/2fa/confirm", Some(access), Some(json!({ "code": totp(host, &secret, 0) }))).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    // The confirming code's time step is spent: the next code is a fresh step's.
    advance(host, 31).await;
    (secret, confirmed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect())
}

/// A code that is wrong at the dev host's now and at any time within the next
/// bursts: none of the codes of the steps the guessing spans.
fn wrong_code(host: &DevHost, secret: &str) -> String {
    let valid: Vec<String> = (-1..=30).map(|s| totp(host, secret, s)).collect();
    (0..).map(|n: u32| format!("{:06}", n * 7919 % 1_000_000)).find(|c| !valid.contains(c)).unwrap()
}

#[tokio::test]
async fn brute_forcing_totp_at_sign_in_in_parallel_is_cut_off_at_the_limit() {
    let host = start_dev_host("totp-guess").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let (secret, _) = enable_two_factor(&host, &ann.access).await;
    let wrong = wrong_code(&host, &secret);
    let checked = guess_in_bursts(&host, 30, (StatusCode::UNAUTHORIZED, "invalid_two_factor"), || {
        let body = json!({ "email": "ann@acme.example", "password": PASSWORD, "totp_code": wrong });
        request(&host, Method::POST, "/v1/sessions", None, body)
    })
    .await;
    assert_eq!(checked, LOCKOUT_THRESHOLD);
    let right = json!({ "email": "ann@acme.example", "password": PASSWORD, "totp_code": totp(&host, &secret, 0) });
    assert_eq!(code_of(&sign_in(&host, right).await), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    host.stop().await;
}

#[tokio::test]
async fn brute_forcing_totp_through_disable_2fa_is_throttled() {
    let host = start_dev_host("disable-2fa-guess").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let (secret, _) = enable_two_factor(&host, &ann.access).await;
    // The attacker holds a session and even the password; only the phone is missing.
    let stolen = ann.access.clone();
    let wrong = wrong_code(&host, &secret);
    let checked = guess_in_bursts(&host, 20, (StatusCode::FORBIDDEN, "reauthentication_failed"), || {
        request(&host, Method::DELETE, "/v1/me/2fa", Some(&stolen), json!({ "password": PASSWORD, "code": wrong }))
    })
    .await;
    assert_eq!(checked, LOCKOUT_THRESHOLD, "guesses here count against the account like sign-in's");
    let right = json!({ "password": PASSWORD, "code": totp(&host, &secret, 0) });
    let answer = call(&host, Method::DELETE, "/v1/me/2fa", Some(&stolen), Some(right)).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "even the right code is refused unchecked now");
    let answer = sign_in(&host, sign_in_body("ann@acme.example", PASSWORD)).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "one counter for the account");
    // Without the password, a code alone never gets 2FA turned off.
    advance(&host, 16 * 60).await;
    let (status, body) =
        sign_in(&host, json!({ "email": "ann@acme.example", "password": PASSWORD, "totp_code": totp(&host, &secret, 0) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    advance(&host, 31).await;
    let answer =
        call(&host, Method::DELETE, "/v1/me/2fa", Some(&access), Some(json!({ "password": "not it", "code": totp(&host, &secret, 0) })))
            .await;
    assert_eq!(code_of(&answer), (StatusCode::FORBIDDEN, "reauthentication_failed"));
    let answer = call(&host, Method::DELETE, "/v1/me/2fa", Some(&access), Some(json!({ "code": totp(&host, &secret, 0) }))).await;
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "the password is required: {answer:?}");
    let (status, _) =
        call(&host, Method::DELETE, "/v1/me/2fa", Some(&access), Some(json!({ "password": PASSWORD, "code": totp(&host, &secret, 0) })))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the owner with password and code turns it off");
    host.stop().await;
}

#[tokio::test]
async fn a_stolen_session_cannot_enrol_its_own_authenticator() {
    let host = start_dev_host("enrol").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let stolen = ann.access.clone();
    let (status, body) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&stolen), Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the password is required: {body}");
    let (status, body) = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&stolen), Some(json!({ "password": "a guess at it" }))).await;
    assert_eq!(code_of(&(status, body.clone())), (StatusCode::FORBIDDEN, "reauthentication_failed"));
    assert!(body.get("secret").is_none(), "no secret handed out: {body}");
    let (status, body) = call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&stolen), Some(json!({ "code": "123456" }))).await;
    assert_eq!(code_of(&(status, body)), (StatusCode::CONFLICT, "no_setup"), "nothing pending to confirm");
    // Guessing the password here counts like sign-in.
    let checked = guess_in_bursts(&host, 20, (StatusCode::FORBIDDEN, "reauthentication_failed"), || {
        request(&host, Method::POST, "/v1/me/2fa/setup", Some(&stolen), json!({ "password": "another guess" }))
    })
    .await;
    assert_eq!(checked + 1, LOCKOUT_THRESHOLD);
    let answer = call(&host, Method::POST, "/v1/me/2fa/setup", Some(&stolen), Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    host.stop().await;
}

#[tokio::test]
async fn the_password_change_route_is_no_password_oracle() {
    let host = start_dev_host("password-oracle").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let stolen = ann.access.clone();
    let checked = guess_in_bursts(&host, 40, (StatusCode::FORBIDDEN, "reauthentication_failed"), || {
        let body = json!({ "current_password": "is it this one", "new_password": "the attacker's own passphrase 9" });
        request(&host, Method::POST, "/v1/me/password", Some(&stolen), body)
    })
    .await;
    assert_eq!(checked, LOCKOUT_THRESHOLD);
    let right = json!({ "current_password": PASSWORD, "new_password": "the attacker's own passphrase 9" });
    let answer = call(&host, Method::POST, "/v1/me/password", Some(&stolen), Some(right)).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "the right guess is refused unchecked");
    let answer = sign_in(&host, sign_in_body("ann@acme.example", PASSWORD)).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "and sign-in with it too");
    advance(&host, 16 * 60).await;
    assert_eq!(sign_in(&host, sign_in_body("ann@acme.example", PASSWORD)).await.0, StatusCode::OK, "the password was never changed");
    host.stop().await;
}

#[tokio::test]
async fn parallel_wrong_passwords_before_deleting_a_workspace_are_all_counted() {
    let host = start_dev_host("deletion-guess").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let path = format!("/v1/workspaces/{}/deletion", ann.workspace);
    let checked = guess_in_bursts(&host, 30, (StatusCode::FORBIDDEN, "reauthentication_failed"), || {
        request(&host, Method::POST, &path, Some(&ann.access), json!({ "password": "maybe this" }))
    })
    .await;
    assert_eq!(checked, LOCKOUT_THRESHOLD);
    let answer = call(&host, Method::POST, &path, Some(&ann.access), Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(code_of(&answer), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{}", ann.workspace), Some(&ann.access), None).await;
    assert_eq!(workspace["deletion_scheduled_for"], Value::Null, "nothing scheduled: {workspace}");
    host.stop().await;
}

#[tokio::test]
async fn one_recovery_code_used_twice_in_parallel_signs_in_once() {
    let host = start_dev_host("recovery-race").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let (_, codes) = enable_two_factor(&host, &ann.access).await;
    for code in &codes[..3] {
        let body = json!({ "email": "ann@acme.example", "password": PASSWORD, "recovery_code": code });
        let tasks: Vec<_> = (0..2).map(|_| tokio::spawn(request(&host, Method::POST, "/v1/sessions", None, body.clone()))).collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let signed_in = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
        assert_eq!(signed_in, 1, "one code, one sign-in: {answers:?}");
        assert!(answers.iter().any(|a| code_of(a) == (StatusCode::UNAUTHORIZED, "invalid_two_factor")), "{answers:?}");
        advance(&host, 61).await; // past the throttle's delay for the refused one
    }
    host.stop().await;
}

#[tokio::test]
async fn two_recovery_codes_used_in_parallel_are_both_spent() {
    // Two writes of one user record at once (here: two different recovery codes) must
    // not lose either change: the loser re-reads and re-applies.
    let host = start_dev_host("recovery-lost-update").await;
    let ann = sign_up(&host, "ann@acme.example").await;
    let (_, codes) = enable_two_factor(&host, &ann.access).await;
    let with = |code: &str| json!({ "email": "ann@acme.example", "password": PASSWORD, "recovery_code": code });
    let tasks: Vec<_> = codes[..2].iter().map(|c| tokio::spawn(request(&host, Method::POST, "/v1/sessions", None, with(c)))).collect();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.0, StatusCode::OK, "{answer:?}");
    }
    for code in &codes[..2] {
        let answer = sign_in(&host, with(code)).await;
        assert_eq!(code_of(&answer), (StatusCode::UNAUTHORIZED, "invalid_two_factor"), "code {code} was spent");
    }
    host.stop().await;
}

#[tokio::test]
async fn sign_out_everywhere_reaches_the_150th_session() {
    let host = start_dev_host("many-sessions").await;
    let first = sign_up(&host, "ann@acme.example").await;
    // 150 more devices, two at a time: sign-ins in flight count against the account
    // until they succeed (three free failures), and this test is about paging, not
    // about how close to that line a burst can go.
    let mut others = Vec::new();
    for _ in 0..75 {
        let tasks: Vec<_> = (0..2)
            .map(|_| tokio::spawn(request(&host, Method::POST, "/v1/sessions", None, sign_in_body("ann@acme.example", PASSWORD))))
            .collect();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            others.push(body["access_token"].as_str().unwrap().to_string());
        }
    }
    let (status, listed) = call(&host, Method::GET, "/v1/sessions", Some(&first.access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 151, "every session is listed, not one page of them");

    // Changing the password signs out every other session, the 150th as the first.
    let change = json!({ "current_password": PASSWORD, "new_password": "an entirely new passphrase 7" });
    assert_eq!(call(&host, Method::POST, "/v1/me/password", Some(&first.access), Some(change)).await.0, StatusCode::NO_CONTENT);
    for (n, access) in others.iter().enumerate() {
        assert_eq!(
            call(&host, Method::GET, "/v1/sessions", Some(access), None).await.0,
            StatusCode::UNAUTHORIZED,
            "session {} still works",
            n + 1
        );
    }
    let (_, listed) = call(&host, Method::GET, "/v1/sessions", Some(&first.access), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "only the changing session is left: {listed}");
    host.stop().await;
}
