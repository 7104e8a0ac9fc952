//! The cost meter: an SDK interceptor that counts every AWS request Tern makes.
//!
//! Attached to every client in [`crate::clients`], it records each attempt (AWS
//! bills retries too) by service and operation, and the DynamoDB capacity the
//! service reports. Tests assert these counts, benchmarks price them with
//! [`tern_domain::cost::PriceTable`].

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::sync::{Arc, Mutex};
use tern_domain::cost::Usage;

#[derive(Debug, Clone, Default)]
pub struct CostMeter {
    usage: Arc<Mutex<Usage>>,
}

impl CostMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything counted so far. Take one before and one after a piece of work and
    /// use [`Usage::since`] for what the work cost.
    pub fn snapshot(&self) -> Usage {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        // A panic elsewhere while holding the lock leaves counts that are still valid numbers.
        self.usage.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Write units a transaction request will be billed, read before it is sent (the
/// request body is gone by the time the answer arrives).
#[derive(Debug, Clone)]
struct TransactionWrites(f64);

impl Storable for TransactionWrites {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CostMeter {
    fn name(&self) -> &'static str {
        "TernCostMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().is_some_and(|m| m.service() == "DynamoDB" && m.name() == "TransactWriteItems") {
            let estimate = transaction_estimate(context.request().body().bytes().unwrap_or_default());
            cfg.interceptor_state().store_put(TransactionWrites(estimate));
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (read_units, write_units) = if metadata.service() == "DynamoDB" {
            let body = context.response().and_then(|r| r.body().bytes()).unwrap_or_default();
            match dynamodb_capacity(metadata.name(), body) {
                // moto reports no capacity for transactions; AWS bills two write units
                // per item (up to 1 KB each), so that is what is counted.
                (0.0, 0.0) if metadata.name() == "TransactWriteItems" => (0.0, cfg.load::<TransactionWrites>().map_or(0.0, |t| t.0)),
                units => units,
            }
        } else {
            (0.0, 0.0)
        };
        self.lock().record(metadata.service(), metadata.name(), read_units, write_units);
        Ok(())
    }
}

/// Capacity units from a DynamoDB response body's `ConsumedCapacity`, split into
/// reads and writes by operation. Tern's adapters ask for `TOTAL` on every call.
fn dynamodb_capacity(operation: &str, body: &[u8]) -> (f64, f64) {
    // Cheap pre-check: most bodies are parsed again by the SDK anyway, do not parse twice without need.
    if body.is_empty() || !contains(body, b"ConsumedCapacity") {
        return (0.0, 0.0);
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (0.0, 0.0);
    };
    let units = match &value["ConsumedCapacity"] {
        serde_json::Value::Array(items) => items.iter().filter_map(|c| c["CapacityUnits"].as_f64()).sum(),
        single => single["CapacityUnits"].as_f64().unwrap_or(0.0),
    };
    let is_read = matches!(operation, "GetItem" | "BatchGetItem" | "Query" | "Scan" | "TransactGetItems" | "ExecuteStatement");
    if is_read { (units, 0.0) } else { (0.0, units) }
}

/// Two write units per item of a TransactWriteItems request body, rounded up per KB.
fn transaction_estimate(request: &[u8]) -> f64 {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(request) else { return 0.0 };
    value["TransactItems"]
        .as_array()
        .map(|items| items.iter().map(|item| 2.0 * (item.to_string().len() as f64 / 1024.0).ceil().max(1.0)).sum())
        .unwrap_or(0.0)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_capacity_from_single_and_batch_responses() {
        let put = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":2.0}}"#;
        assert_eq!(dynamodb_capacity("PutItem", put), (0.0, 2.0));
        let get = br#"{"Item":{},"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}"#;
        assert_eq!(dynamodb_capacity("GetItem", get), (0.5, 0.0));
        let batch = br#"{"ConsumedCapacity":[{"CapacityUnits":1.0},{"CapacityUnits":3.0}]}"#;
        assert_eq!(dynamodb_capacity("TransactWriteItems", batch), (0.0, 4.0));
        assert_eq!(dynamodb_capacity("PutItem", b"{}"), (0.0, 0.0));
        assert_eq!(dynamodb_capacity("PutItem", b"not json ConsumedCapacity"), (0.0, 0.0));
    }

    #[test]
    fn a_transaction_without_reported_capacity_is_estimated_at_two_units_per_item() {
        let request = br#"{"TransactItems":[{"Put":{"Item":{}}},{"ConditionCheck":{}},{"Update":{}}]}"#;
        assert_eq!(transaction_estimate(request), 6.0);
        assert_eq!(transaction_estimate(b"nonsense"), 0.0);
    }
}
