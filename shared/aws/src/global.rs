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
//!
//! Keys are `pk = <KIND>#<key>`, `sk = <KIND>`. A record may also appear in the
//! `gsi1` index (sessions by user).

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
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Codec(e.to_string()))?;
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

    pub async fn get<R: GlobalRecord>(&self, key: &str) -> Result<Option<R>, StoreError> {
        read_item(&self.client, &self.name, key_of::<R>(key)).await
    }

    pub async fn delete<R: GlobalRecord>(&self, key: &str) -> Result<(), StoreError> {
        delete_item(&self.client, &self.name, key_of::<R>(key)).await
    }

    /// Records listed under `gsi1pk` (eventually consistent, as every GSI read is).
    pub async fn by_gsi1<R: GlobalRecord>(&self, gsi1pk: &str, limit: i32) -> Result<Vec<R>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :kind)")
            .expression_attribute_values(":pk", AttributeValue::S(gsi1pk.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S(format!("{}#", R::KIND.prefix())))
            .limit(limit.clamp(1, 100))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map_err(|e| StoreError::Codec(e.to_string())))
            .collect()
    }
}
