//! Throttled attempts at a secret: sign-in, and the re-authentication that
//! sensitive changes ask for (2FA on or off, a new password, deleting a workspace).
//!
//! The policy is `tern_security::throttle`; this is its storage. An attempt is
//! counted *before* the password or code is checked, by a write conditional on the
//! record's version (a lost race re-reads and decides again), so N parallel guesses
//! are N counted attempts and one over the limit is refused without being checked.
//! What turns out right gives its count back ([`Admitted::succeeded`]).

use crate::ApiState;
use crate::auth::Client;
use crate::records::{Throttle, User};
use crate::routes::identity::{account_key, too_many};
use crate::routes::two_factor::{SecondFactorError, check_second_factor};
use axum::http::StatusCode;
use axum::response::Response;
use tern_aws::table::StoreError;
use tern_http::ApiError;
use tern_security::secret::SecretString;
use tern_security::throttle::ThrottlePolicy;

/// Conditional-write rounds before an attempt is refused as if throttled: each lost
/// round means another attempt on the same key was counted meanwhile.
const ROUNDS: usize = 64;

/// One throttled key of an attempt.
pub struct Key {
    key: String,
    policy: ThrottlePolicy,
    /// A success clears the record (the account's earlier slips no longer count),
    /// rather than only giving its own count back (the source address's).
    cleared_by_success: bool,
}

impl Key {
    /// The account, by the identifier the client sent (known or not).
    pub fn account(email: &str) -> Key {
        Key { key: account_key(email), policy: ThrottlePolicy::ACCOUNT, cleared_by_success: true }
    }

    /// The source address, as API Gateway saw it.
    pub fn source_ip(client: &Client) -> Key {
        Key {
            key: format!("ip:{}", client.ip.as_deref().unwrap_or("unknown")),
            policy: ThrottlePolicy::SOURCE_IP,
            cleared_by_success: false,
        }
    }
}

/// An attempt counted under all its keys: check the secret now, then say how it went.
/// Dropping it (or [`Admitted::failed`]) leaves the attempt counted as a failure.
#[must_use = "an admitted attempt stays counted as a failure unless it succeeded"]
pub struct Admitted {
    keys: Vec<Key>,
}

pub enum Admission {
    Admitted(Admitted),
    /// Throttled: the 429 to answer, with `Retry-After`.
    Refused(Response),
}

/// Counts an attempt under each key, in order, or refuses it unchecked. A key that
/// refuses gives back the counts the keys before it took.
pub async fn admit(state: &ApiState, keys: Vec<Key>) -> Result<Admission, ApiError> {
    let now = state.now_unix();
    let mut counted = Vec::new();
    for key in keys {
        match count(state, &key, now).await? {
            Ok(()) => counted.push(key),
            Err(until) => {
                Admitted { keys: counted }.not_a_failure(state).await?;
                return Ok(Admission::Refused(too_many(until, now)));
            }
        }
    }
    Ok(Admission::Admitted(Admitted { keys: counted }))
}

fn expiry(policy: &ThrottlePolicy, record: &tern_security::throttle::FailureRecord) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(policy.record_expires_at(record) as i64).ok()
}

/// `Ok(Err(until))` when the key refuses the attempt.
async fn count(state: &ApiState, key: &Key, now: u64) -> Result<Result<(), u64>, ApiError> {
    for _ in 0..ROUNDS {
        let stored = state.platform.global().get::<Throttle>(&key.key).await?;
        let next = match key.policy.admit(stored.as_ref().map(|t| t.record), now) {
            Ok(next) => next,
            Err(until) => return Ok(Err(until)),
        };
        let expires = expiry(&key.policy, &next);
        let written = match stored {
            None => state.platform.global().create(&Throttle { key: key.key.clone(), record: next, version: 1 }, expires).await,
            Some(t) => {
                let record = Throttle { key: key.key.clone(), record: next, version: t.version.saturating_add(1) };
                state.platform.global().replace_versioned(&record, expires, "version", t.version).await
            }
        };
        match written {
            Ok(()) => return Ok(Ok(())),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(ApiError::unavailable(e)),
        }
    }
    // Every round lost to other attempts on this key: it is under a burst right now.
    Ok(Err(now.saturating_add(1)))
}

/// Gives one count back under `key`, unless the record is gone.
async fn give_back(state: &ApiState, key: &Key) -> Result<(), ApiError> {
    for _ in 0..ROUNDS {
        let Some(stored) = state.platform.global().get::<Throttle>(&key.key).await? else {
            return Ok(());
        };
        let record = key.policy.refund(stored.record);
        let expires = expiry(&key.policy, &record);
        let next = Throttle { key: key.key.clone(), record, version: stored.version.saturating_add(1) };
        match state.platform.global().replace_versioned(&next, expires, "version", stored.version).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(ApiError::unavailable(e)),
        }
    }
    // Keeping the count errs on the strict side; nothing is lost but one free attempt.
    tracing::warn!("a throttle count could not be given back under contention");
    Ok(())
}

impl Admitted {
    /// The secret was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The secret was right: the account's record is cleared, the others get their
    /// count back.
    pub async fn succeeded(self, state: &ApiState) -> Result<(), ApiError> {
        for key in &self.keys {
            if key.cleared_by_success {
                state.platform.global().delete::<Throttle>(&key.key).await?;
            } else {
                give_back(state, key).await?;
            }
        }
        Ok(())
    }

    /// Nothing was decided (the password was right and the second factor is still to
    /// come): every key gets its count back, and nothing is cleared.
    pub async fn not_a_failure(self, state: &ApiState) -> Result<(), ApiError> {
        for key in &self.keys {
            give_back(state, key).await?;
        }
        Ok(())
    }
}

/// What a signed-in user presents again before a sensitive change.
pub struct Proof<'a> {
    pub password: &'a SecretString,
    /// Required when the user has 2FA on (or `recovery_code`).
    pub totp_code: Option<&'a str>,
    pub recovery_code: Option<&'a str>,
}

pub fn reauthentication_failed() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "reauthentication_failed", "The password or the authentication code is wrong.")
}

/// Checks the user's password, and the second factor when 2FA is on, counted under
/// the same account record as sign-in, so guessing here counts there too: a stolen
/// session is no oracle for the password or the codes. `Ok(Some(response))` when
/// throttled; [`reauthentication_failed`] when wrong.
pub async fn reauthenticate(state: &ApiState, user_id: &str, proof: Proof<'_>) -> Result<Option<Response>, ApiError> {
    let user = state.platform.global().get::<User>(user_id).await?.ok_or_else(ApiError::not_found)?;
    let attempt = match admit(state, vec![Key::account(&user.email)]).await? {
        Admission::Admitted(attempt) => attempt,
        Admission::Refused(response) => return Ok(Some(response)),
    };
    let stored = tern_security::password::PasswordHash::from_stored(user.password_hash.clone());
    let mut accepted = state.hasher.verify(proof.password, &stored).unwrap_or(false);
    if accepted && user.has_two_factor() {
        accepted = match check_second_factor(state, &user.id, proof.totp_code, proof.recovery_code).await {
            Ok(_) => true,
            Err(SecondFactorError::Wrong) => false,
            Err(SecondFactorError::Failed(e)) => return Err(e),
        };
    }
    if !accepted {
        attempt.failed();
        return Err(reauthentication_failed());
    }
    attempt.succeeded(state).await?;
    Ok(None)
}
