//! Workspace roles, the platform support role, and what each may do.
//!
//! The matrix lives in one function ([`Role::has`]) and is pinned cell by cell by
//! a table in the tests, so any change to who-can-do-what shows up in review as a
//! test diff.

use std::fmt;
use std::str::FromStr;

/// A role. `Owner`..`Readonly` are workspace roles; `Support` is Tern staff
/// acting on a workspace, which sees metadata but never content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Full control, including billing and deleting the workspace.
    Owner,
    /// Runs the workspace day to day; cannot touch billing, owners or deletion.
    Admin,
    /// Does the outreach work.
    Member,
    /// Reads everything a member reads; changes nothing.
    Readonly,
    /// Platform support staff (not assignable inside a workspace).
    Support,
}

/// Something a role may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See workspace metadata: settings, the members list (platform support sees it
    /// without e-mail addresses), mailboxes list, sequences. Not templates: they
    /// are message bodies ([`Permission::ReadMessageBodies`]).
    ReadWorkspace,
    /// Send e-mail (start sequences, send one-offs).
    Send,
    /// Import contacts.
    Import,
    /// Export contact data (bulk exfiltration risk, so admins only).
    Export,
    /// See and change billing.
    Billing,
    /// Invite, remove and change roles of members.
    ManageMembers,
    /// Connect, change and remove sending mailboxes.
    ManageMailboxes,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Read the audit log.
    ReadAudit,
    /// Read contacts and companies.
    ReadContacts,
    /// Create, change and delete contacts and companies.
    WriteContacts,
    /// Create and change templates.
    ManageTemplates,
    /// Create and change sequences and enrollments.
    ManageSequences,
    /// Change workspace settings (retention, allowlist, 2FA requirement, …).
    ManageWorkspace,
    /// Delete the workspace (crypto-shreds its data).
    DeleteWorkspace,
    /// Read outbound message bodies (templates) and inbound ones (reply text).
    ReadMessageBodies,
    /// Read free-text notes on contacts.
    ReadContactNotes,
}

impl Permission {
    /// Every permission, for exhaustive tests and admin UIs.
    pub const ALL: [Permission; 17] = [
        Permission::ReadWorkspace,
        Permission::Send,
        Permission::Import,
        Permission::Export,
        Permission::Billing,
        Permission::ManageMembers,
        Permission::ManageMailboxes,
        Permission::ManageApiKeys,
        Permission::ReadAudit,
        Permission::ReadContacts,
        Permission::WriteContacts,
        Permission::ManageTemplates,
        Permission::ManageSequences,
        Permission::ManageWorkspace,
        Permission::DeleteWorkspace,
        Permission::ReadMessageBodies,
        Permission::ReadContactNotes,
    ];
}

impl Role {
    /// Every role, for exhaustive tests.
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Member, Role::Readonly, Role::Support];

    /// Roles that can be held inside a workspace (and so granted by its members).
    pub const WORKSPACE_ROLES: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Readonly];

    /// Whether this role grants `permission`.
    pub const fn has(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(permission, P::Billing | P::DeleteWorkspace),
            Role::Member => matches!(
                permission,
                P::ReadWorkspace
                    | P::Send
                    | P::Import
                    | P::ReadContacts
                    | P::WriteContacts
                    | P::ManageTemplates
                    | P::ManageSequences
                    | P::ReadMessageBodies
                    | P::ReadContactNotes
            ),
            Role::Readonly => matches!(permission, P::ReadWorkspace | P::ReadContacts | P::ReadMessageBodies | P::ReadContactNotes),
            // Support diagnoses delivery and configuration problems from metadata and
            // the audit trail. Contact data and content stay with the customer.
            Role::Support => matches!(permission, P::ReadWorkspace | P::ReadAudit),
        }
    }

    /// Rank among workspace roles (higher is more powerful); `None` for Support,
    /// which is outside the workspace hierarchy.
    pub const fn rank(self) -> Option<u8> {
        match self {
            Role::Owner => Some(3),
            Role::Admin => Some(2),
            Role::Member => Some(1),
            Role::Readonly => Some(0),
            Role::Support => None,
        }
    }

    /// Whether `self` may give someone the role `target` (invite or promote).
    ///
    /// Requires [`Permission::ManageMembers`]; an Admin can grant up to Admin
    /// but never Owner; nobody grants Support from inside a workspace.
    pub const fn can_grant(self, target: Role) -> bool {
        if !self.has(Permission::ManageMembers) {
            return false;
        }
        match (self.rank(), target.rank()) {
            (Some(actor), Some(target)) => target <= actor && !(actor == 2 && target == 3),
            _ => false,
        }
    }

    /// Whether `self` may change a member who currently has `current` to `new`
    /// (or remove them, with `new == current`): the actor must be able to grant
    /// both the old and the new role, so an Admin cannot demote an Owner.
    ///
    /// "The last Owner cannot leave or be demoted" needs the member list and is
    /// checked by the caller.
    pub const fn can_change_role(self, current: Role, new: Role) -> bool {
        self.can_grant(current) && self.can_grant(new)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Readonly => "readonly",
            Role::Support => "support",
        })
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected owner, admin, member, readonly or support)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.to_string() == s).ok_or_else(|| UnknownRole(s.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;

    /// The whole matrix. Columns: Owner, Admin, Member, Readonly, Support.
    const MATRIX: [(Permission, [bool; 5]); 17] = [
        (P::ReadWorkspace, [true, true, true, true, true]),
        (P::Send, [true, true, true, false, false]),
        (P::Import, [true, true, true, false, false]),
        (P::Export, [true, true, false, false, false]),
        (P::Billing, [true, false, false, false, false]),
        (P::ManageMembers, [true, true, false, false, false]),
        (P::ManageMailboxes, [true, true, false, false, false]),
        (P::ManageApiKeys, [true, true, false, false, false]),
        (P::ReadAudit, [true, true, false, false, true]),
        (P::ReadContacts, [true, true, true, true, false]),
        (P::WriteContacts, [true, true, true, false, false]),
        (P::ManageTemplates, [true, true, true, false, false]),
        (P::ManageSequences, [true, true, true, false, false]),
        (P::ManageWorkspace, [true, true, false, false, false]),
        (P::DeleteWorkspace, [true, false, false, false, false]),
        (P::ReadMessageBodies, [true, true, true, true, false]),
        (P::ReadContactNotes, [true, true, true, true, false]),
    ];

    #[test]
    fn matrix_is_pinned() {
        // The table covers every permission exactly once.
        for p in Permission::ALL {
            assert_eq!(MATRIX.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
        }
        for (permission, row) in MATRIX {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(role.has(permission), expected, "{role:?} {permission:?}");
            }
        }
    }

    #[test]
    fn support_never_reads_content() {
        assert!(!Role::Support.has(P::ReadMessageBodies));
        assert!(!Role::Support.has(P::ReadContactNotes));
        assert!(!Role::Support.has(P::ReadContacts));
    }

    #[test]
    fn only_owner_deletes_or_bills() {
        for role in Role::ALL {
            assert_eq!(role.has(P::DeleteWorkspace), role == Role::Owner);
            assert_eq!(role.has(P::Billing), role == Role::Owner);
        }
    }

    /// Grant table: rows are actors, columns are targets (Owner, Admin, Member, Readonly, Support).
    const GRANTS: [(Role, [bool; 5]); 5] = [
        (Role::Owner, [true, true, true, true, false]),
        (Role::Admin, [false, true, true, true, false]),
        (Role::Member, [false, false, false, false, false]),
        (Role::Readonly, [false, false, false, false, false]),
        (Role::Support, [false, false, false, false, false]),
    ];

    #[test]
    fn grant_table_is_pinned() {
        for (actor, row) in GRANTS {
            for (target, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(actor.can_grant(target), expected, "{actor:?} grants {target:?}");
            }
        }
    }

    #[test]
    fn admin_cannot_demote_an_owner_but_owner_can() {
        assert!(!Role::Admin.can_change_role(Role::Owner, Role::Member));
        assert!(!Role::Admin.can_change_role(Role::Member, Role::Owner));
        assert!(Role::Admin.can_change_role(Role::Member, Role::Admin));
        assert!(Role::Owner.can_change_role(Role::Owner, Role::Admin));
        assert!(!Role::Member.can_change_role(Role::Readonly, Role::Member));
    }

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert_eq!("root".parse::<Role>().unwrap_err(), UnknownRole("root".into()));
        assert!("Owner".parse::<Role>().is_err());
        assert_eq!(serde_json::to_string(&P::ReadMessageBodies).unwrap(), "\"read_message_bodies\"");
    }
}
