//! The records that belong to no single workspace. There are few, and they are all
//! named here: everything else lives behind a [`crate::table::ScopedTable`].
//!
//! | kind | key | why global |
//! |---|---|---|
//! | `USER` | user id | a person can belong to several workspaces |
//! | `EMAIL` | normalised e-mail | sign-in finds the user before any workspace is known |
//! | `SESSION` | session (refresh family) id | a refresh token names only its family |
//! | `APIKEY` | SHA-256 of the key | a presented key must be found before its workspace |
//! | `INVITE` | SHA-256 of the invite token | the invite link names only its token |
//! | `THROTTLE` | `account:…` / `ip:…` | sign-in throttling precedes authentication |
//! | `COMPANY` | registrable domain | public company facts, found once, reused by every workspace |
//! | `UNSUB` | SHA-256 of the unsubscribe token | a recipient's one-click link names only its token |
//! | `DELETION` | workspace id | housekeeping lists scheduled workspace deletions by due date, across workspaces |
//! | `DOMAINCLAIM` | sending domain | a domain is proven by one workspace only, whichever workspace asks |
//! | `COUNTER` | `<limit>:<subject>[:<window>]` | sign-up and reset rate limits precede any account; caps count across workspaces |
//! | `SIGNUP` | SHA-256 of the verification token | a sign-up waits for its address to be verified, before any account exists |
//! | `EMAILTOKEN` | SHA-256 of the token | an e-mail link (verify the address, reset the password) names only its token |
//! | `AUDITKEY` | `v1` | the platform's audit anchor key (sealed), one for every workspace's trail |
//! | `POISON` | `<function>#<message id>` | a job that can never succeed, kept for an operator; its workspace may be unknown |
//!
//! Keys are `pk = <KIND>#<key>`, `sk = <KIND>`. A record may also appear in the
//! `gsi1` index (sessions by user, pending deletions by due date).

use crate::table::{Condition, EXPIRES_AT, StoreError, delete_item, read_item, write_item};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalKind {
    User,
    Email,
    Session,
    ApiKey,
    Invite,
    Throttle,
    Company,
    Unsubscribe,
    PendingDeletion,
    DomainClaim,
    Counter,
    PendingSignup,
    EmailToken,
    AuditAnchorKey,
    PoisonJob,
}

impl GlobalKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Email => "EMAIL",
            Self::Session => "SESSION",
            Self::ApiKey => "APIKEY",
            Self::Invite => "INVITE",
            Self::Throttle => "THROTTLE",
            Self::Company => "COMPANY",
            Self::Unsubscribe => "UNSUB",
            Self::PendingDeletion => "DELETION",
            Self::DomainClaim => "DOMAINCLAIM",
            Self::Counter => "COUNTER",
            Self::PendingSignup => "SIGNUP",
            Self::EmailToken => "EMAILTOKEN",
            Self::AuditAnchorKey => "AUDITKEY",
            Self::PoisonJob => "POISON",
        }
    }
}

pub trait GlobalRecord: Serialize + DeserializeOwned {
    const KIND: GlobalKind;
    fn key(&self) -> String;
    /// `(gsi1pk, gsi1sk)` when the record is listed by another key.
    fn gsi1(&self) -> Option<(String, String)> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct GlobalTable {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

/// A DynamoDB key (or a query's `LastEvaluatedKey`).
type ItemKey = HashMap<String, AttributeValue>;

fn key_of<R: GlobalRecord>(key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(format!("{}#{key}", R::KIND.prefix()))),
        ("sk".to_string(), AttributeValue::S(R::KIND.prefix().to_string())),
    ])
}

impl GlobalTable {
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    fn item<R: GlobalRecord>(record: &R, expires_at: Option<OffsetDateTime>) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(record).map_err(|e| StoreError::Codec(e.to_string()))?;
        item.extend(key_of::<R>(&record.key()));
        if let Some((pk, sk)) = record.gsi1() {
            item.insert("gsi1pk".into(), AttributeValue::S(pk));
            item.insert("gsi1sk".into(), AttributeValue::S(sk));
        }
        if let Some(at) = expires_at {
            item.insert(EXPIRES_AT.into(), AttributeValue::N(at.unix_timestamp().to_string()));
        }
        Ok(item)
    }

    /// Writes a new record; [`StoreError::ConditionFailed`] when the key is taken.
    pub async fn create<R: GlobalRecord>(&self, record: &R, expires_at: Option<OffsetDateTime>) -> Result<(), StoreError> {
        write_item(&self.client, &self.name, Self::item(record, expires_at)?, Condition::New).await
    }

    pub async fn put<R: GlobalRecord>(&self, record: &R, expires_at: Option<OffsetDateTime>) -> Result<(), StoreError> {
        write_item(&self.client, &self.name, Self::item(record, expires_at)?, Condition::Always).await
    }

    /// Replaces a record only while `attribute` still holds `expected`.
    pub async fn replace_if<R: GlobalRecord>(
        &self,
        record: &R,
        expires_at: Option<OffsetDateTime>,
        attribute: &str,
        expected: AttributeValue,
    ) -> Result<(), StoreError> {
        let condition = Condition::Unchanged(attribute.to_string(), expected);
        write_item(&self.client, &self.name, Self::item(record, expires_at)?, condition).await
    }

    /// Replaces a record only while its version counter `attribute` still holds
    /// `expected` (the caller's record carries `expected + 1`): optimistic
    /// concurrency, so of two read-modify-writes from the same read one wins and the
    /// other gets [`StoreError::ConditionFailed`] and can re-read and re-apply. Never
    /// creates a record that was deleted meanwhile.
    pub async fn replace_versioned<R: GlobalRecord>(
        &self,
        record: &R,
        expires_at: Option<OffsetDateTime>,
        attribute: &str,
        expected: u64,
    ) -> Result<(), StoreError> {
        let condition = Condition::Version(attribute.to_string(), expected);
        write_item(&self.client, &self.name, Self::item(record, expires_at)?, condition).await
    }

    pub async fn get<R: GlobalRecord>(&self, key: &str) -> Result<Option<R>, StoreError> {
        read_item(&self.client, &self.name, key_of::<R>(key)).await
    }

    pub async fn delete<R: GlobalRecord>(&self, key: &str) -> Result<(), StoreError> {
        delete_item(&self.client, &self.name, key_of::<R>(key)).await
    }

    /// Adds one to the counter `count` of record `key` (created at zero), unless it
    /// already reached `max`: `Some(new count)`, or `None` when at `max` (nothing
    /// changed). One conditional UpdateItem, so concurrent callers never pass `max`
    /// together. `expires_at` is set when the record is created (a window's end);
    /// `workspace` names the workspace the count is about (`workspace_id`, so the
    /// workspace's deletion finds and deletes it).
    pub async fn increment_below<R: GlobalRecord>(
        &self,
        key: &str,
        max: u64,
        expires_at: Option<OffsetDateTime>,
        workspace: Option<&str>,
    ) -> Result<Option<u64>, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(key_of::<R>(key)))
            .condition_expression("attribute_not_exists(#c) OR #c < :max")
            .expression_attribute_names("#c", "count")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .expression_attribute_values(":key", AttributeValue::S(key.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut update = "ADD #c :one SET #k = :key".to_string();
        if let Some(ws) = workspace {
            update.push_str(", #w = :w");
            request = request
                .expression_attribute_names("#w", "workspace_id")
                .expression_attribute_values(":w", AttributeValue::S(ws.to_string()));
        }
        if let Some(at) = expires_at {
            update.push_str(", #e = if_not_exists(#e, :e)");
            request = request
                .expression_attribute_names("#e", EXPIRES_AT)
                .expression_attribute_values(":e", AttributeValue::N(at.unix_timestamp().to_string()));
        }
        match request.update_expression(update).send().await.map_err(StoreError::from_sdk) {
            Ok(output) => Ok(output.attributes.and_then(|a| a.get("count")?.as_n().ok()?.parse().ok())),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Gives back one that [`GlobalTable::increment_below`] took (the work it counted
    /// did not happen); never below zero.
    pub async fn decrement<R: GlobalRecord>(&self, key: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(key_of::<R>(key)))
            .update_expression("ADD #c :minus")
            .condition_expression("#c > :zero")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk);
        match result {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes a record and returns it, atomically: of concurrent takers exactly one
    /// gets it (single-use tokens are claimed this way). `None` when it was not there.
    pub async fn take<R: GlobalRecord>(&self, key: &str) -> Result<Option<R>, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(key_of::<R>(key)))
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk);
        match output {
            Ok(output) => output.attributes.map(|i| serde_dynamo::from_item(i).map_err(|e| StoreError::Codec(e.to_string()))).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records listed under `gsi1pk` (eventually consistent, as every GSI read is).
    pub async fn by_gsi1<R: GlobalRecord>(&self, gsi1pk: &str, limit: i32) -> Result<Vec<R>, StoreError> {
        Ok(self.gsi1_page(gsi1pk, limit, None).await?.0)
    }

    /// Every record listed under `gsi1pk`, page after page: for what must reach them
    /// all (signing out every session of a user), where one page would leave the rest.
    pub async fn all_by_gsi1<R: GlobalRecord>(&self, gsi1pk: &str) -> Result<Vec<R>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (mut page, next) = self.gsi1_page(gsi1pk, 100, start).await?;
            all.append(&mut page);
            match next {
                Some(key) => start = Some(key),
                None => return Ok(all),
            }
        }
    }

    async fn gsi1_page<R: GlobalRecord>(
        &self,
        gsi1pk: &str,
        limit: i32,
        start: Option<ItemKey>,
    ) -> Result<(Vec<R>, Option<ItemKey>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :kind)")
            .expression_attribute_values(":pk", AttributeValue::S(gsi1pk.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S(format!("{}#", R::KIND.prefix())))
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let next = output.last_evaluated_key.filter(|k| !k.is_empty());
        let records = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map_err(|e| StoreError::Codec(e.to_string())))
            .collect::<Result<Vec<R>, _>>()?;
        Ok((records, next))
    }
}

/// A sending domain a workspace has proven it controls (a DNS TXT record with its
/// own token, see `functions/api/src/routes/sending_domains.rs`). One per domain:
/// created with a condition, so a second workspace cannot prove it too, and
/// deleted with its workspace (the deletion sweep takes every global record whose
/// `workspace_id` names it) or when the workspace gives the domain up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DomainClaim {
    /// Lower-case ASCII (punycode), no trailing dot.
    pub domain: String,
    pub workspace_id: String,
    pub verified_at: i64,
}

impl GlobalRecord for DomainClaim {
    const KIND: GlobalKind = GlobalKind::DomainClaim;
    fn key(&self) -> String {
        self.domain.clone()
    }
}

/// The cross-tenant cache of public company facts. Only what a company publishes
/// about itself: no workspace's notes, scores or history, and no people (team members
/// and personal e-mail addresses are dropped before caching), so erasing a workspace
/// leaves nothing personal behind here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CachedCompany {
    pub domain: String,
    pub profile: tern_extract::CompanyProfile,
    pub fetched_at: i64,
    pub pages_fetched: u32,
}

/// How long cached company facts are reused before a fresh fetch.
pub const COMPANY_CACHE_TTL: time::Duration = time::Duration::days(30);

impl GlobalRecord for CachedCompany {
    const KIND: GlobalKind = GlobalKind::Company;
    fn key(&self) -> String {
        self.domain.clone()
    }
}

impl CachedCompany {
    /// The profile without people: what may be shared across tenants.
    pub fn depersonalised(mut profile: tern_extract::CompanyProfile) -> tern_extract::CompanyProfile {
        profile.team.clear();
        profile.emails.retain(|e| {
            let local = e.value.split('@').next().unwrap_or_default();
            ROLE_LOCAL_PARTS.contains(&local)
        });
        profile
    }
}

/// Addresses of a function, not a person, which a company publishes to be contacted.
const ROLE_LOCAL_PARTS: &[&str] = &[
    "info",
    "hello",
    "contact",
    "kontakt",
    "office",
    "sales",
    "support",
    "service",
    "mail",
    "team",
    "press",
    "presse",
    "jobs",
    "careers",
    "billing",
    "legal",
    "privacy",
    "datenschutz",
];
