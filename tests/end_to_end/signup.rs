//! Sign-up and account recovery under attack: the plan is not the client's to pick,
//! sign-ups are rate-limited and capped, addresses are verified by a link before an
//! account can act, sign-up and reset do not reveal which addresses have accounts,
//! and reset tokens work once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tern_devhost::DevHost;
use tern_tests::{call, start_dev_host};

const PASSWORD: &str = "correct horse battery staple 42";

fn code(answer: &Value) -> Option<&str> {
    answer["error"]["code"].as_str()
}

async fn audit_actions(host: &DevHost, token: &str, ws: &str) -> Vec<(String, String)> {
    let (status, trail) = call(host, Method::GET, &format!("/v1/workspaces/{ws}/audit"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["actor"].as_str().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test]
async fn signing_up_with_plan_enterprise_gets_trial() {
    let host = start_dev_host("signup-plan").await;
    let body = json!({ "email": "eve@evil.example", "password": PASSWORD, "name": "Eve", "workspace_name": "Evil", "plan": "enterprise" });
    let (status, answer) = call(&host, Method::POST, "/v1/signup", None, Some(body)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan_not_selectable")), "{answer}");
    // Nothing was created: the address can still sign up, and lands on trial.
    let session = tern_tests::sign_up(
        &host,
        json!({ "email": "eve@evil.example", "password": PASSWORD, "name": "Eve", "workspace_name": "Evil", "plan": "trial" }),
    )
    .await;
    let (token, ws) = (session["access_token"].as_str().unwrap(), session["workspace_id"].as_str().unwrap());
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "trial");
    // Nor can the owner change it through the API.
    let (status, answer) =
        call(&host, Method::PATCH, &format!("/v1/workspaces/{ws}"), Some(token), Some(json!({ "plan": "enterprise" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "trial");

    // The operator's command does, and the trail says who and why.
    let (status, changed) = call(
        &host,
        Method::POST,
        &format!("/_dev/workspaces/{ws}/plan"),
        None,
        Some(json!({ "plan": "enterprise", "operator": "ana", "reason": "contract 42" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!((changed["from"].as_str(), changed["to"].as_str()), (Some("trial"), Some("enterprise")));
    let (_, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!(workspace["plan"], "enterprise");
    let actions = audit_actions(&host, token, ws).await;
    assert!(actions.contains(&("workspace.plan_changed".into(), "operator:ana".into())), "{actions:?}");
    // An operator command without a reason is refused and changes nothing.
    let (status, answer) = call(
        &host,
        Method::POST,
        &format!("/_dev/workspaces/{ws}/plan"),
        None,
        Some(json!({ "plan": "trial", "operator": "ana", "reason": " " })),
    )
    .await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_operator_request")), "{answer}");
    host.stop().await;
}

#[tokio::test]
async fn sign_up_is_rate_limited_per_ip_under_concurrency() {
    let host = start_dev_host("signup-rate").await;
    let attempts = 16;
    let answers = futures_join_all((0..attempts).map(|i| {
        let body = json!({ "email": format!("bulk{i}@evil.example"), "password": PASSWORD, "name": "Bulk", "workspace_name": "Bulk" });
        let url = format!("{}/v1/signup", host.base_url());
        async move {
            let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
            (response.status(), retry_after, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    }))
    .await;
    let accepted = answers.iter().filter(|(s, _, _)| s.is_success()).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    // Exactly the limit got through, however the requests interleaved.
    assert_eq!((accepted, limited.len()), (10, attempts - 10), "{answers:?}");
    for (_, retry_after, body) in &limited {
        assert_eq!(code(body), Some("rate_limited"));
        assert!(retry_after.is_some_and(|s| (1..=3600).contains(&s)), "Retry-After: {retry_after:?}");
    }
    // The next window lets the address sign up again.
    call(&host, Method::POST, "/_dev/clock/advance", None, Some(json!({ "hours": 1 }))).await;
    tern_tests::sign_up(&host, json!({ "email": "late@evil.example", "password": PASSWORD, "name": "Late", "workspace_name": "Late" }))
        .await;
    host.stop().await;
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("the request task"));
    }
    out
}

#[tokio::test]
async fn the_sub_workspace_cap_holds() {
    let host = start_dev_host("subws-cap").await;
    let founder = tern_tests::sign_up(
        &host,
        json!({ "email": "founder@agency.example", "password": PASSWORD, "name": "Fay", "workspace_name": "Agency" }),
    )
    .await;
    let (token, agency) = (founder["access_token"].as_str().unwrap().to_string(), founder["workspace_id"].as_str().unwrap().to_string());
    tern_tests::set_plan(&host, &agency, "agency").await;
    let cap = tern_domain::plan::Plan::Agency.max_sub_workspaces() as usize;
    // Concurrent waves of six: the last one races for the cap's final slots. (Six,
    // not all at once: every creation also appends to the agency's one audit chain,
    // and an append retries a bounded number of times under contention.)
    let mut answers = Vec::new();
    for wave in (0..cap + 4).collect::<Vec<_>>().chunks(6) {
        answers.extend(
            futures_join_all(wave.iter().map(|i| {
                let url = format!("{}/v1/workspaces/{agency}/sub-workspaces", host.base_url());
                let (token, name) = (token.clone(), format!("Client {i}"));
                async move {
                    let response = reqwest::Client::new().post(url).bearer_auth(token).json(&json!({ "name": name })).send().await.unwrap();
                    (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
                }
            }))
            .await,
        );
    }
    let created: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).collect();
    assert_eq!(created.len(), cap, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, code(body)), (StatusCode::UNPROCESSABLE_ENTITY, Some("sub_workspace_limit")), "{body}");
    }
    // A client workspace has the agency plan too, but cannot start a second level.
    let sub = created[0].1["id"].as_str().unwrap();
    let (status, answer) =
        call(&host, Method::POST, &format!("/v1/workspaces/{sub}/sub-workspaces"), Some(&token), Some(json!({ "name": "Nested" }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, Some("nested_sub_workspace")), "{answer}");
    host.stop().await;
}

async fn answer_of(host: &DevHost, body: Value) -> (StatusCode, Vec<(String, String)>, Value) {
    let response = reqwest::Client::new().post(format!("{}/v1/signup", host.base_url())).json(&body).send().await.unwrap();
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !["x-request-id", "date", "content-length"].contains(&name.as_str()))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    headers.sort();
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sign_up_does_not_reveal_whether_an_address_has_an_account() {
    let host = start_dev_host("enumeration").await;
    tern_tests::sign_up(&host, json!({ "email": "ann@acme.example", "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" })).await;
    let attempt =
        |email: &str| json!({ "email": email, "password": "another long passphrase 77", "name": "Mallory", "workspace_name": "Probe" });
    let taken = answer_of(&host, attempt("ann@acme.example")).await;
    let free = answer_of(&host, attempt("nobody@acme.example")).await;
    // Status, headers and body: identical.
    assert_eq!(taken, free);
    assert_eq!((taken.0, taken.2["status"].as_str()), (StatusCode::ACCEPTED, Some("verification_sent")));
    // The owner hears of it instead of getting a link; the new address gets a link.
    let to_ann = host.functions.platform_mail_to("ann@acme.example");
    assert!(to_ann.last().unwrap().text.contains("already has an account"), "{to_ann:?}");
    assert!(tern_tests::mailed_token(&host, "ann@acme.example", "signup/verify").is_some(), "Ann's own sign-up link, from before");
    assert!(tern_tests::mailed_token(&host, "nobody@acme.example", "signup/verify").is_some());
    // Ann's account is untouched: her password still signs in, the prober's does not.
    let (status, _) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "ann@acme.example", "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &host,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": "ann@acme.example", "password": "another long passphrase 77" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    host.stop().await;
}

#[tokio::test]
async fn squatting_an_address_does_not_lock_out_its_owner() {
    let host = start_dev_host("squatting").await;
    // Mallory signs up with Olga's address, and can never follow the link (it went to Olga).
    let (status, _, _) = answer_of(
        &host,
        json!({ "email": "olga@owner.example", "password": "quiet lantern orbit 9981", "name": "Mallory", "workspace_name": "Squat" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = call(
        &host,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": "olga@owner.example", "password": "quiet lantern orbit 9981" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no account exists before the address is verified");
    // Olga signs up later, as if nothing happened, and gets her account.
    let olga = tern_tests::sign_up(
        &host,
        json!({ "email": "olga@owner.example", "password": PASSWORD, "name": "Olga", "workspace_name": "Olga's" }),
    )
    .await;
    let (token, ws) = (olga["access_token"].as_str().unwrap(), olga["workspace_id"].as_str().unwrap());
    let (status, workspace) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(token), None).await;
    assert_eq!((status, workspace["name"].as_str()), (StatusCode::OK, Some("Olga's")));
    // Mallory's link, if Olga clicks it out of curiosity, creates nothing.
    let mails = host.functions.platform_mail_to("olga@owner.example");
    let mallorys =
        mails.iter().find_map(|m| m.text.split("#token=").nth(1).map(|t| t.split_whitespace().next().unwrap().to_string())).unwrap();
    let (status, answer) = call(&host, Method::POST, "/v1/signup/verify", None, Some(json!({ "token": mallorys }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, Some("email_taken")), "{answer}");
    let (status, _) = call(
        &host,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": "olga@owner.example", "password": "quiet lantern orbit 9981" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A link works once.
    let (status, answer) = call(&host, Method::POST, "/v1/signup/verify", None, Some(json!({ "token": mallorys }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, Some("token_invalid")), "{answer}");

    // Squatting through an invitation: Mallory invites Pia's address into her own
    // workspace, accepts it herself and adds her authenticator to the account.
    use tern_domain::clock::Clock;
    let mallory = tern_tests::sign_up(
        &host,
        json!({ "email": "mallory@evil.example", "password": PASSWORD, "name": "Mallory", "workspace_name": "Evil" }),
    )
    .await;
    let evil = mallory["workspace_id"].as_str().unwrap();
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{evil}/invites"),
        mallory["access_token"].as_str(),
        Some(json!({ "email": "pia@owner.example", "role": "owner" })),
    )
    .await;
    let (_, squat) = call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite["token"], "name": "Pia", "password": "quiet lantern orbit 9981" })),
    )
    .await;
    let squatter = squat["access_token"].as_str().unwrap().to_string();
    let (_, setup) =
        call(&host, Method::POST, "/v1/me/2fa/setup", Some(&squatter), Some(json!({ "password": "quiet lantern orbit 9981" }))).await;
    {
        let secret = setup["secret"].as_str().expect("2FA setup for the squatted account");
        let secret = tern_security::totp::TotpSecret::from_base32(secret).unwrap();
        let code =
            tern_security::totp::code_at(&secret, host.clock.now().unix_timestamp() as u64, tern_security::totp::TotpParams::DEFAULT)
                .unwrap();
        let (status, confirmed) = call(&host, Method::POST, "/v1/me/2fa/confirm", Some(&squatter), Some(json!({ "code": code }))).await;
        assert_eq!(status, StatusCode::OK, "{confirmed}");
    }
    // Pia signs up: the address has an account, so she is told to reset; the reset
    // link proves the address and gives her the account, without Mallory's factor.
    let (status, _, _) =
        answer_of(&host, json!({ "email": "pia@owner.example", "password": PASSWORD, "name": "Pia", "workspace_name": "Pia's" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(host.functions.platform_mail_to("pia@owner.example").last().unwrap().text.contains("reset your password"));
    post_answer(&host, "/v1/password-reset", json!({ "email": "pia@owner.example" })).await;
    let token = tern_tests::mailed_token(&host, "pia@owner.example", "reset-password").unwrap();
    let (status, answer) =
        call(&host, Method::POST, "/v1/password-reset/confirm", None, Some(json!({ "token": token, "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&squatter), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "Mallory's session is gone");
    let (status, _) = call(
        &host,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": "pia@owner.example", "password": "quiet lantern orbit 9981" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, pia) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "pia@owner.example", "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::OK, "Pia signs in without Mallory's authenticator: {pia}");
    let (status, _) = call(&host, Method::GET, &format!("/v1/workspaces/{evil}"), pia["access_token"].as_str(), None).await;
    assert_eq!(status, StatusCode::OK, "the account is verified now");
    host.stop().await;
}

#[tokio::test]
async fn an_unverified_account_cannot_act_in_its_workspace() {
    let host = start_dev_host("unverified").await;
    let owner =
        tern_tests::sign_up(&host, json!({ "email": "owner@acme.example", "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" }))
            .await;
    let (owner_token, ws) = (owner["access_token"].as_str().unwrap(), owner["workspace_id"].as_str().unwrap());
    // The inviter holds the invitation link, so accepting it proves nothing about the address.
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/invites"),
        Some(owner_token),
        Some(json!({ "email": "bo@acme.example", "role": "admin" })),
    )
    .await;
    let (status, joined) = call(
        &host,
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({ "token": invite["token"], "name": "Bo", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    let bo = joined["access_token"].as_str().unwrap().to_string();
    for (method, path, body) in [
        (Method::GET, format!("/v1/workspaces/{ws}"), None),
        (Method::GET, format!("/v1/workspaces/{ws}/members"), None),
        (Method::POST, format!("/v1/workspaces/{ws}/contacts"), Some(json!({ "email": "lead@customer.example" }))),
        (Method::POST, format!("/v1/workspaces/{ws}/invites"), Some(json!({ "email": "x@acme.example", "role": "member" }))),
    ] {
        let (status, answer) = call(&host, method, &path, Some(&bo), body).await;
        assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, Some("email_not_verified")), "{path}: {answer}");
    }
    // Its own settings it can read, and it can ask for the link again.
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&bo), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&host, Method::POST, "/v1/me/email/verification", Some(&bo), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Someone else's verification token does not verify it (and is not spent).
    let owners_token = tern_tests::mailed_token(&host, "bo@acme.example", "verify-email").unwrap();
    let (status, answer) =
        call(&host, Method::POST, "/v1/me/email/verify", Some(owner_token), Some(json!({ "token": owners_token }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, Some("token_invalid")), "{answer}");
    // With the mailed link it can.
    tern_tests::verify_email(&host, "bo@acme.example", &bo).await;
    let (status, _) = call(&host, Method::GET, &format!("/v1/workspaces/{ws}/members"), Some(&bo), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = call(&host, Method::POST, "/v1/me/email/verification", Some(&bo), None).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, Some("already_verified")));

    // Invites reach existing accounts: signed in as the invited address, it joins.
    let other =
        tern_tests::sign_up(&host, json!({ "email": "cy@globex.example", "password": PASSWORD, "name": "Cy", "workspace_name": "Globex" }))
            .await;
    let cy = other["access_token"].as_str().unwrap();
    let (_, invite) = call(
        &host,
        Method::POST,
        &format!("/v1/workspaces/{ws}/invites"),
        Some(owner_token),
        Some(json!({ "email": "cy@globex.example", "role": "member" })),
    )
    .await;
    let (status, answer) = call(&host, Method::POST, "/v1/invites/accept", Some(&bo), Some(json!({ "token": invite["token"] }))).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, Some("invite_for_another_address")), "{answer}");
    let (status, joined) = call(&host, Method::POST, "/v1/invites/accept", Some(cy), Some(json!({ "token": invite["token"] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    assert_eq!(joined["workspace_id"].as_str(), Some(ws));
    let (status, view) =
        call(&host, Method::GET, &format!("/v1/workspaces/{ws}"), Some(joined["access_token"].as_str().unwrap()), None).await;
    assert_eq!((status, view["your_role"].as_str()), (StatusCode::OK, Some("member")));
    host.stop().await;
}

async fn post_answer(host: &DevHost, path: &str, body: Value) -> (StatusCode, Vec<(String, String)>, Value) {
    let response = reqwest::Client::new().post(format!("{}{path}", host.base_url())).json(&body).send().await.unwrap();
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !["x-request-id", "date", "content-length"].contains(&name.as_str()))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    headers.sort();
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_reset_token_works_once_and_expires() {
    let host = start_dev_host("reset").await;
    let ann =
        tern_tests::sign_up(&host, json!({ "email": "ann@acme.example", "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" }))
            .await;
    let (old_session, ws) = (ann["access_token"].as_str().unwrap().to_string(), ann["workspace_id"].as_str().unwrap().to_string());
    let (status, _, _) = post_answer(&host, "/v1/password-reset", json!({ "email": "Ann@Acme.example" })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = tern_tests::mailed_token(&host, "ann@acme.example", "reset-password").expect("a reset link mailed");
    let new_password = "a brand new passphrase 2027";
    let (status, answer) =
        call(&host, Method::POST, "/v1/password-reset/confirm", None, Some(json!({ "token": token, "password": new_password }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    // Every session is signed out; only the new password signs in.
    let (status, _) = call(&host, Method::GET, "/v1/sessions", Some(&old_session), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "ann@acme.example", "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, session) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "ann@acme.example", "password": new_password }))).await;
    assert_eq!(status, StatusCode::OK);
    let actions = audit_actions(&host, session["access_token"].as_str().unwrap(), &ws).await;
    assert!(actions.iter().any(|(a, _)| a == "user.password_reset"), "{actions:?}");
    // Once.
    let (status, answer) = call(
        &host,
        Method::POST,
        "/v1/password-reset/confirm",
        None,
        Some(json!({ "token": token, "password": "yet another passphrase 55" })),
    )
    .await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, Some("token_invalid")), "{answer}");
    // And for an hour.
    post_answer(&host, "/v1/password-reset", json!({ "email": "ann@acme.example" })).await;
    let late = tern_tests::mailed_token(&host, "ann@acme.example", "reset-password").unwrap();
    assert_ne!(late, token);
    call(&host, Method::POST, "/_dev/clock/advance", None, Some(json!({ "minutes": 61 }))).await;
    let (status, answer) = call(
        &host,
        Method::POST,
        "/v1/password-reset/confirm",
        None,
        Some(json!({ "token": late, "password": "yet another passphrase 55" })),
    )
    .await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, Some("token_invalid")), "{answer}");
    let (status, _) =
        call(&host, Method::POST, "/v1/sessions", None, Some(json!({ "email": "ann@acme.example", "password": new_password }))).await;
    assert_eq!(status, StatusCode::OK, "the expired link changed nothing");
    host.stop().await;
}

#[tokio::test]
async fn reset_answers_unknown_addresses_identically() {
    let host = start_dev_host("reset-enum").await;
    tern_tests::sign_up(&host, json!({ "email": "ann@acme.example", "password": PASSWORD, "name": "Ann", "workspace_name": "Acme" })).await;
    let known = post_answer(&host, "/v1/password-reset", json!({ "email": "ann@acme.example" })).await;
    let unknown = post_answer(&host, "/v1/password-reset", json!({ "email": "nobody@acme.example" })).await;
    assert_eq!(known, unknown);
    assert_eq!((known.0, known.2["status"].as_str()), (StatusCode::ACCEPTED, Some("reset_requested")));
    assert!(tern_tests::mailed_token(&host, "ann@acme.example", "reset-password").is_some());
    assert!(host.functions.platform_mail_to("nobody@acme.example").is_empty(), "nothing is sent to an address without an account");
    // Past the per-address limit the answer is still the same, and no more mail goes out.
    for _ in 0..4 {
        assert_eq!(post_answer(&host, "/v1/password-reset", json!({ "email": "ann@acme.example" })).await, unknown);
    }
    let resets = host.functions.platform_mail_to("ann@acme.example").iter().filter(|m| m.text.contains("/reset-password#token=")).count();
    assert_eq!(resets, 3);
    // The source address is limited openly (it is the caller's own).
    let mut last = StatusCode::ACCEPTED;
    for i in 0..6 {
        last = post_answer(&host, "/v1/password-reset", json!({ "email": format!("probe{i}@acme.example") })).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    host.stop().await;
}
