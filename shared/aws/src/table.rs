//! The one DynamoDB table, reached only through a workspace scope.
//!
//! A [`ScopedTable`] is the only way to read or write a workspace's items, and it
//! builds every key itself from its workspace, so code that forgot the tenant does
//! not compile and code with the wrong tenant cannot reach the other tenant's keys.
//! Each item type implements [`Entity`], which names its kind; keys are
//! `pk = WS#<workspace>#<KIND>#<id>`, `sk = <KIND>`.

use crate::keys;
use crate::tenant::Tenant;
pub use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use tern_domain::ids::WorkspaceId;
use time::OffsetDateTime;

/// The TTL attribute named in template.yaml.
pub const EXPIRES_AT: &str = "expires_at";

/// An item type stored in a workspace.
pub trait Entity: Serialize + DeserializeOwned {
    /// Upper-case kind, part of every key: `INBOUND`, `CONTACT`, ...
    const KIND: &'static str;
    /// Small collections read together (members, API keys) share the workspace's
    /// partition, `pk = WS#<ws>`, `sk = <KIND>#<id>`, so one Query lists them.
    /// Everything else gets its own partition and spreads load.
    const COLLECTION: bool = false;
    fn id(&self) -> &str;
}

/// A page of a collection and where the next one starts.
#[derive(Debug)]
pub struct Page<E> {
    pub items: Vec<E>,
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A page of undecoded items ([`ScopedTable::collection_page`]).
#[derive(Debug)]
pub struct RawPage {
    pub items: Vec<RawItem>,
    /// The sort key to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// One item as stored, without its keys: its kind, id, attributes and TTL.
#[derive(Debug, Clone)]
pub struct RawItem {
    pub kind: String,
    pub id: String,
    pub fields: serde_json::Value,
    pub expires_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conditional write's condition did not hold: the item exists (for a
    /// create) or changed (for an update). Expected under concurrency; not a fault.
    #[error("the item's condition did not hold")]
    ConditionFailed,
    #[error("DynamoDB is throttling or unavailable: {0}")]
    Unavailable(String),
    #[error("item could not be encoded or decoded: {0}")]
    Codec(String),
    #[error("DynamoDB request failed: {0}")]
    Request(String),
}

impl StoreError {
    pub(crate) fn from_sdk<E, R>(error: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = error.as_service_error().and_then(|e| e.code()).unwrap_or_default().to_string();
        match code.as_str() {
            "ConditionalCheckFailedException" => Self::ConditionFailed,
            "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" | "InternalServerError" => {
                Self::Unavailable(crate::worker::error_chain(&error))
            }
            _ if matches!(
                error,
                aws_sdk_dynamodb::error::SdkError::TimeoutError(_) | aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)
            ) =>
            {
                Self::Unavailable(crate::worker::error_chain(&error))
            }
            _ => Self::Request(crate::worker::error_chain(&error)),
        }
    }
}

/// What [`ScopedTable::add`] does with an item that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// A counter on an item that must exist (a mailbox): adding to nothing is refused.
    Refuse,
    /// A counter that is its own item: the first addition creates it.
    Create,
}

/// The condition a write is made under.
pub(crate) enum Condition {
    Always,
    /// The item must not exist yet (creates; idempotent producers).
    New,
    /// `attribute` must still hold this value (optimistic concurrency).
    Unchanged(String, AttributeValue),
    /// The item exists and its version counter `attribute` still holds this number;
    /// version 0 also matches an item written before it had the counter.
    Version(String, u64),
}

/// The one place items are written; scoped and global records both come through here.
pub(crate) async fn write_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: HashMap<String, AttributeValue>,
    condition: Condition,
) -> Result<(), StoreError> {
    let mut request = client.put_item().table_name(table).set_item(Some(item)).return_consumed_capacity(ReturnConsumedCapacity::Total);
    request = match condition {
        Condition::Always => request,
        Condition::New => request.condition_expression("attribute_not_exists(pk)"),
        Condition::Unchanged(attribute, expected) => request
            .condition_expression("#a = :expected")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":expected", expected),
        Condition::Version(attribute, 0) => request
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#a) OR #a = :expected)")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":expected", AttributeValue::N("0".into())),
        Condition::Version(attribute, expected) => request
            .condition_expression("#a = :expected")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string())),
    };
    request.send().await.map_err(StoreError::from_sdk)?;
    Ok(())
}

/// Reads and decodes one item by key (strongly consistent).
pub(crate) async fn read_item<T: DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: HashMap<String, AttributeValue>,
) -> Result<Option<T>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    output.item.map(|item| serde_dynamo::from_item(item).map_err(|e| StoreError::Codec(e.to_string()))).transpose()
}

pub(crate) async fn delete_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: HashMap<String, AttributeValue>,
) -> Result<(), StoreError> {
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// The only door to a workspace's items.
    pub fn scope(&self, tenant: Tenant) -> ScopedTable {
        ScopedTable { table: self.clone(), tenant }
    }
}

#[derive(Debug, Clone)]
pub struct ScopedTable {
    table: Table,
    tenant: Tenant,
}

impl ScopedTable {
    pub fn workspace(&self) -> WorkspaceId {
        self.tenant.workspace()
    }

    pub fn tenant(&self) -> Tenant {
        self.tenant
    }

    fn key<E: Entity>(&self, id: &str) -> HashMap<String, AttributeValue> {
        let (pk, sk) = if E::COLLECTION {
            (keys::workspace_partition(self.workspace()), format!("{}#{id}", E::KIND))
        } else {
            (keys::entity_partition(self.workspace(), E::KIND, id), E::KIND.to_string())
        };
        HashMap::from([("pk".to_string(), AttributeValue::S(pk)), ("sk".to_string(), AttributeValue::S(sk))])
    }

    fn item<E: Entity>(&self, entity: &E, expires_at: Option<OffsetDateTime>) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(entity).map_err(|e| StoreError::Codec(e.to_string()))?;
        item.extend(self.key::<E>(entity.id()));
        item.insert("ws".to_string(), AttributeValue::S(self.workspace().to_string()));
        if let Some(at) = expires_at {
            item.insert(EXPIRES_AT.to_string(), AttributeValue::N(at.unix_timestamp().to_string()));
        }
        Ok(item)
    }

    /// Writes a new item; [`StoreError::ConditionFailed`] when one with that id exists,
    /// which makes at-least-once producers idempotent.
    pub async fn create<E: Entity>(&self, entity: &E, expires_at: Option<OffsetDateTime>) -> Result<(), StoreError> {
        write_item(&self.table.client, &self.table.name, self.item(entity, expires_at)?, Condition::New).await
    }

    /// Replaces an existing item (or writes it), keeping its workspace and key.
    pub async fn put<E: Entity>(&self, entity: &E, expires_at: Option<OffsetDateTime>) -> Result<(), StoreError> {
        write_item(&self.table.client, &self.table.name, self.item(entity, expires_at)?, Condition::Always).await
    }

    pub async fn get<E: Entity>(&self, id: &str) -> Result<Option<E>, StoreError> {
        read_item(&self.table.client, &self.table.name, self.key::<E>(id)).await
    }

    /// Deletes an item; deleting what is not there is not an error.
    pub async fn delete<E: Entity>(&self, id: &str) -> Result<(), StoreError> {
        delete_item(&self.table.client, &self.table.name, self.key::<E>(id)).await
    }

    /// Replaces an item only while `attribute` still holds `expected` (optimistic
    /// concurrency: [`StoreError::ConditionFailed`] when someone changed it first).
    pub async fn replace_if<E: Entity>(
        &self,
        entity: &E,
        expires_at: Option<OffsetDateTime>,
        attribute: &str,
        expected: AttributeValue,
    ) -> Result<(), StoreError> {
        let condition = Condition::Unchanged(attribute.to_string(), expected);
        write_item(&self.table.client, &self.table.name, self.item(entity, expires_at)?, condition).await
    }

    /// One page of a collection entity, in id order, starting after `after`.
    pub async fn list<E: Entity>(&self, limit: i32, after: Option<&str>) -> Result<Page<E>, StoreError> {
        debug_assert!(E::COLLECTION, "only collection entities can be listed");
        let pk = keys::workspace_partition(self.workspace());
        let mut request = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :kind)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":kind", AttributeValue::S(format!("{}#", E::KIND)))
            .limit(limit.clamp(1, 100))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(after) = after {
            request = request.set_exclusive_start_key(Some(self.key::<E>(after)));
        }
        let output = request.send().await.map_err(StoreError::from_sdk)?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(|e| StoreError::Codec(e.to_string())))
            .collect::<Result<Vec<E>, _>>()?;
        let next = output
            .last_evaluated_key
            .and_then(|key| key.get("sk").and_then(|sk| sk.as_s().ok()).cloned())
            .and_then(|sk| sk.split_once('#').map(|(_, id)| id.to_string()));
        Ok(Page { items, next })
    }

    /// One page of every item in the workspace's collection partition, all kinds,
    /// undecoded, in key order (by kind, then id), starting after the item whose
    /// sort key is `after`. Exports read the workspace this way, so a collection
    /// kind added later is exported without anyone having to remember it.
    pub async fn collection_page(&self, after: Option<&str>) -> Result<RawPage, StoreError> {
        let pk = keys::workspace_partition(self.workspace());
        let mut request = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .limit(100)
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(after) = after {
            request = request.set_exclusive_start_key(Some(HashMap::from([
                ("pk".to_string(), AttributeValue::S(pk)),
                ("sk".to_string(), AttributeValue::S(after.to_string())),
            ])));
        }
        let output = request.send().await.map_err(StoreError::from_sdk)?;
        let mut items = Vec::new();
        for mut item in output.items.unwrap_or_default() {
            let Some(AttributeValue::S(sk)) = item.remove("sk") else { continue };
            let Some((kind, id)) = sk.split_once('#') else { continue };
            let (kind, id) = (kind.to_string(), id.to_string());
            item.remove("pk");
            item.remove("ws");
            let expires_at = item.remove(EXPIRES_AT).and_then(|v| v.as_n().ok().and_then(|n| n.parse().ok()));
            let fields: serde_json::Value = serde_dynamo::from_item(item).map_err(|e| StoreError::Codec(e.to_string()))?;
            items.push(RawItem { kind, id, fields, expires_at });
        }
        let next = output.last_evaluated_key.and_then(|key| key.get("sk").and_then(|sk| sk.as_s().ok()).cloned());
        Ok(RawPage { items, next })
    }

    /// Adds each `(attribute, by)` to numeric attributes of the item (counters such as
    /// a mailbox's bounces or an address's soft bounces), atomically and without
    /// reading it first, and returns the new values in the order given: two
    /// concurrent additions are two counts, never one. An item that does not exist is
    /// refused ([`StoreError::ConditionFailed`]) or created with just its id and the
    /// counts, as `missing` says.
    pub async fn add<E: Entity>(&self, id: &str, counts: &[(&str, i64)], missing: IfMissing) -> Result<Vec<i64>, StoreError> {
        let mut request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(self.key::<E>(id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut parts = Vec::new();
        for (i, (attribute, by)) in counts.iter().enumerate() {
            parts.push(format!("#a{i} :v{i}"));
            request = request
                .expression_attribute_names(format!("#a{i}"), *attribute)
                .expression_attribute_values(format!(":v{i}"), AttributeValue::N(by.to_string()));
        }
        let mut expression = format!("ADD {}", parts.join(", "));
        request = match missing {
            IfMissing::Refuse => request.condition_expression("attribute_exists(pk)"),
            IfMissing::Create => {
                expression.push_str(" SET #id = :id");
                request.expression_attribute_names("#id", "id").expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            }
        };
        let output = request.update_expression(expression).send().await.map_err(StoreError::from_sdk)?;
        let attributes = output.attributes.unwrap_or_default();
        counts
            .iter()
            .map(|(attribute, _)| {
                attributes
                    .get(*attribute)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StoreError::Codec(format!("{} {id} has no {attribute} after adding to it", E::KIND)))
            })
            .collect()
    }

    /// Sets `attribute` of an existing item to `value` unless it already has a value
    /// (a first-time fact, such as a mailbox's first send). `false` when it had one.
    pub async fn set_once<E: Entity>(&self, id: &str, attribute: &str, value: AttributeValue) -> Result<bool, StoreError> {
        self.update_attribute::<E>(id, attribute, value, Overwrite::OnlyUnset).await
    }

    /// Sets one attribute of an existing item and nothing else, so a worker that adds
    /// its finding (a verification result) never writes back fields a person changed
    /// meanwhile. `false` when the item is gone.
    pub async fn set_attribute<E: Entity, V: Serialize>(&self, id: &str, attribute: &str, value: &V) -> Result<bool, StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Codec(e.to_string()))?;
        self.update_attribute::<E>(id, attribute, value, Overwrite::Always).await
    }

    /// One attribute of an existing item, in one conditional update; `false` when the
    /// condition refused it (the item is gone, or the attribute was set and must stay).
    async fn update_attribute<E: Entity>(
        &self,
        id: &str,
        attribute: &str,
        value: AttributeValue,
        overwrite: Overwrite,
    ) -> Result<bool, StoreError> {
        let request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(self.key::<E>(id)))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", value)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let request = match overwrite {
            Overwrite::Always => request.condition_expression("attribute_exists(pk)"),
            Overwrite::OnlyUnset => request
                .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#a) OR attribute_type(#a, :null))")
                .expression_attribute_values(":null", AttributeValue::S("NULL".into())),
        };
        match request.send().await.map_err(StoreError::from_sdk) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A page of the collection items that match `keep`, in id order after `after`.
    /// Reads at most `max_scanned` items per call, so a filter that matches little
    /// returns early with a cursor instead of reading the whole collection.
    pub async fn list_matching<E: Entity>(
        &self,
        limit: usize,
        after: Option<String>,
        max_scanned: usize,
        keep: impl Fn(&E) -> bool,
    ) -> Result<Page<E>, StoreError> {
        let mut items = Vec::new();
        let mut cursor = after;
        let mut scanned = 0;
        loop {
            let page = self.list::<E>(100, cursor.as_deref()).await?;
            for item in page.items {
                scanned += 1;
                let id = item.id().to_string();
                if keep(&item) {
                    items.push(item);
                }
                if items.len() == limit || scanned >= max_scanned {
                    return Ok(Page { items, next: Some(id) });
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(Page { items, next: None }),
            }
        }
    }

    /// Every item of a collection whose id starts with `id_prefix` (a contact's
    /// notes, `<contact_id>~`), with one query per page.
    pub async fn list_prefixed<E: Entity>(&self, id_prefix: &str) -> Result<Vec<E>, StoreError> {
        self.query_collection::<E>("pk = :pk AND begins_with(sk, :from)", format!("{}#{id_prefix}", E::KIND), None).await
    }

    /// Every item of a collection with `first <= id <= last`: the companions of a
    /// page of another collection keyed by the same ids, with one query.
    pub async fn list_range<E: Entity>(&self, first: &str, last: &str) -> Result<Vec<E>, StoreError> {
        let to = format!("{}#{last}", E::KIND);
        self.query_collection::<E>("pk = :pk AND sk BETWEEN :from AND :to", format!("{}#{first}", E::KIND), Some(to)).await
    }

    async fn query_collection<E: Entity>(&self, condition: &str, from: String, to: Option<String>) -> Result<Vec<E>, StoreError> {
        debug_assert!(E::COLLECTION, "only collection entities can be listed");
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression(condition)
                .expression_attribute_values(":pk", AttributeValue::S(keys::workspace_partition(self.workspace())))
                .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            if let Some(to) = &to {
                request = request.expression_attribute_values(":to", AttributeValue::S(to.clone()));
            }
            let output = request.send().await.map_err(StoreError::from_sdk)?;
            for item in output.items.unwrap_or_default() {
                all.push(serde_dynamo::from_item(item).map_err(|e| StoreError::Codec(e.to_string()))?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(all),
            }
        }
    }

    /// Brings an existing item's TTL forward to `at` (unix seconds) unless it
    /// already expires at or before then (a shortened retention window). Never
    /// extends; `false` when nothing changed (no such item, or already earlier).
    pub async fn lower_expires_at<E: Entity>(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(self.key::<E>(id)))
            .update_expression("SET #e = :at")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#e) OR attribute_type(#e, :null) OR #e > :at)")
            .expression_attribute_names("#e", EXPIRES_AT)
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .expression_attribute_values(":null", AttributeValue::S("NULL".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result.map_err(StoreError::from_sdk) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes attributes from an existing item (text that must not outlive its
    /// window on an item that stays). Removing what is not there is not an error.
    pub async fn remove_attributes<E: Entity>(&self, id: &str, attributes: &[&str]) -> Result<(), StoreError> {
        let mut request = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(self.key::<E>(id)))
            .condition_expression("attribute_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let mut names = Vec::new();
        for (i, attribute) in attributes.iter().enumerate() {
            names.push(format!("#a{i}"));
            request = request.expression_attribute_names(format!("#a{i}"), *attribute);
        }
        match request.update_expression(format!("REMOVE {}", names.join(", "))).send().await.map_err(StoreError::from_sdk) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every item of a collection, page by page (exports, erasure, small listings).
    pub async fn list_all<E: Entity>(&self) -> Result<Vec<E>, StoreError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list::<E>(100, after.as_deref()).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.table.client
    }

    pub(crate) fn table_name(&self) -> &str {
        &self.table.name
    }

    pub(crate) fn key_of<E: Entity>(&self, id: &str) -> HashMap<String, AttributeValue> {
        self.key::<E>(id)
    }

    pub(crate) fn item_of<E: Entity>(
        &self,
        entity: &E,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        self.item(entity, expires_at)
    }

    /// Reads the TTL an item was written with (retention checks and tests).
    pub async fn expires_at<E: Entity>(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let output = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(self.key::<E>(id)))
            .projection_expression("#e")
            .expression_attribute_names("#e", EXPIRES_AT)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(output.item.and_then(|i| i.get(EXPIRES_AT).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())))
    }
}

/// Whether [`ScopedTable::update_attribute`] may replace a value already set.
#[derive(Debug, Clone, Copy)]
enum Overwrite {
    Always,
    OnlyUnset,
}
