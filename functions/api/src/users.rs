//! Changing user records. A user record is written whole, so two requests that
//! read it and each change a different field (a recovery code used, a workspace
//! joined, 2FA turned off) would otherwise overwrite each other: every write is
//! conditional on the version it read, and a lost race re-reads and re-applies.

use crate::ApiState;
use crate::records::User;
use tern_aws::table::StoreError;
use tern_aws::{Lookup, Tenant};
use tern_domain::ids::WorkspaceId;
use tern_http::ApiError;

/// Read-modify-write rounds before giving up; each lost round means another write
/// to the same user won, so this is only reached under a storm of them.
const ROUNDS: usize = 10;

/// Reads the user, applies `change` and writes the result if nobody wrote the user
/// in between; otherwise starts again from a fresh read. `change` must therefore
/// decide from the record it is given (never from an earlier read), and may refuse
/// with an error, in which case nothing is written. Returns the stored record.
/// `change` is synchronous: anything slow (KMS, hashing) is done before, and
/// `change` checks that what it was computed from is still what the record holds.
pub async fn update<T, E>(state: &ApiState, user_id: &str, mut change: impl FnMut(&mut User) -> Result<T, E> + Send) -> Result<(User, T), E>
where
    E: From<ApiError>,
{
    for _ in 0..ROUNDS {
        let mut user = state.platform.global().get::<User>(user_id).await.map_err(ApiError::from)?.ok_or_else(ApiError::not_found)?;
        let read = user.version;
        let outcome = change(&mut user)?;
        user.version = read.saturating_add(1);
        match state.platform.global().replace_versioned(&user, None, "version", read).await {
            Ok(()) => return Ok((user, outcome)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(ApiError::unavailable(e).into()),
        }
    }
    Err(ApiError::unavailable("the user record kept changing under concurrent writes").into())
}

/// The workspaces a person is a member of, from their membership index (the
/// `workspaces` of their record); an id that does not parse names no workspace.
pub fn memberships(workspaces: &[String]) -> impl Iterator<Item = Tenant> + '_ {
    workspaces.iter().filter_map(|w| membership(w))
}

/// One workspace of a person's membership index (a session's workspace, say).
pub fn membership(workspace: &str) -> Option<Tenant> {
    WorkspaceId::parse(workspace).ok().map(|ws| Tenant::found(ws, Lookup::Membership))
}
