//! What the platform spends on AWS, from counted requests.
//!
//! The AWS adapter's cost meter fills a [`Usage`] from real SDK calls; this module
//! turns it into dollars with public list prices, so tests and benchmarks can state
//! what one e-mail, one reply or one enrichment costs. Prices are us-east-1 list
//! prices (on-demand, no free tier), checked 2026-11.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Counts for one `(service, operation)` pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OperationUsage {
    pub requests: u64,
    /// DynamoDB read request units (on-demand), as reported by `ConsumedCapacity`.
    pub read_units: f64,
    /// DynamoDB write request units (on-demand), as reported by `ConsumedCapacity`.
    pub write_units: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Keyed by `"service:Operation"`, e.g. `"dynamodb:PutItem"`, sorted for stable output.
    pub operations: BTreeMap<String, OperationUsage>,
}

impl Usage {
    pub fn key(service: &str, operation: &str) -> String {
        format!("{}:{operation}", service.to_ascii_lowercase())
    }

    pub fn record(&mut self, service: &str, operation: &str, read_units: f64, write_units: f64) {
        let entry = self.operations.entry(Self::key(service, operation)).or_default();
        entry.requests += 1;
        entry.read_units += read_units;
        entry.write_units += write_units;
    }

    /// Requests for one operation (0 when never called).
    pub fn requests(&self, service: &str, operation: &str) -> u64 {
        self.operations.get(&Self::key(service, operation)).map_or(0, |u| u.requests)
    }

    /// Requests to one service, all operations.
    pub fn service_requests(&self, service: &str) -> u64 {
        let prefix = format!("{}:", service.to_ascii_lowercase());
        self.operations.iter().filter(|(key, _)| key.starts_with(&prefix)).map(|(_, usage)| usage.requests).sum()
    }

    pub fn total_requests(&self) -> u64 {
        self.operations.values().map(|u| u.requests).sum()
    }

    /// What was spent since `earlier` was taken from the same meter.
    pub fn since(&self, earlier: &Usage) -> Usage {
        let mut delta = Usage::default();
        for (key, now) in &self.operations {
            let before = earlier.operations.get(key).copied().unwrap_or_default();
            let diff = OperationUsage {
                requests: now.requests.saturating_sub(before.requests),
                read_units: now.read_units - before.read_units,
                write_units: now.write_units - before.write_units,
            };
            if diff.requests > 0 {
                delta.operations.insert(key.clone(), diff);
            }
        }
        delta
    }
}

/// Public list prices in US dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceTable {
    pub dynamodb_per_million_read_units: f64,
    pub dynamodb_per_million_write_units: f64,
    pub sqs_per_million_requests: f64,
    pub s3_per_thousand_writes: f64,
    pub s3_per_thousand_reads: f64,
    pub kms_per_ten_thousand_requests: f64,
    pub ses_per_thousand_emails: f64,
    pub sns_per_million_requests: f64,
}

impl PriceTable {
    /// us-east-1, on-demand, checked 2026-11 (DynamoDB on-demand prices as cut in Nov 2024).
    pub const US_EAST_1: PriceTable = PriceTable {
        dynamodb_per_million_read_units: 0.125,
        dynamodb_per_million_write_units: 0.625,
        sqs_per_million_requests: 0.40,
        s3_per_thousand_writes: 0.005,
        s3_per_thousand_reads: 0.0004,
        kms_per_ten_thousand_requests: 0.03,
        ses_per_thousand_emails: 0.10,
        sns_per_million_requests: 0.50,
    };

    /// Dollars for one operation's usage.
    pub fn price(&self, key: &str, usage: &OperationUsage) -> f64 {
        let (service, operation) = key.split_once(':').unwrap_or((key, ""));
        let n = usage.requests as f64;
        match service {
            "dynamodb" => {
                usage.read_units * self.dynamodb_per_million_read_units / 1e6
                    + usage.write_units * self.dynamodb_per_million_write_units / 1e6
            }
            "sqs" => n * self.sqs_per_million_requests / 1e6,
            "s3" if is_s3_write(operation) => n * self.s3_per_thousand_writes / 1e3,
            "s3" => n * self.s3_per_thousand_reads / 1e3,
            "kms" => n * self.kms_per_ten_thousand_requests / 1e4,
            // Only sending costs money at SES; identity and quota calls are free.
            "ses" if operation.starts_with("Send") => n * self.ses_per_thousand_emails / 1e3,
            "ses" => 0.0,
            "sns" => n * self.sns_per_million_requests / 1e6,
            _ => 0.0,
        }
    }

    pub fn dollars(&self, usage: &Usage) -> f64 {
        usage.operations.iter().map(|(key, u)| self.price(key, u)).sum()
    }

    /// Dollars excluding SES sending itself: what Tern adds on top of the e-mail.
    pub fn platform_dollars(&self, usage: &Usage) -> f64 {
        usage.operations.iter().filter(|(key, _)| !key.starts_with("ses:Send")).map(|(key, u)| self.price(key, u)).sum()
    }
}

fn is_s3_write(operation: &str) -> bool {
    operation.starts_with("Put")
        || operation.starts_with("Copy")
        || operation.starts_with("Post")
        || operation.starts_with("List")
        || operation.starts_with("Create")
        || operation.starts_with("Upload")
        || operation.starts_with("CompleteMultipart")
}

impl fmt::Display for Usage {
    /// A small table: one line per operation, for bench output and test failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<36} {:>9} {:>10} {:>10}", "operation", "requests", "RRU", "WRU")?;
        for (key, u) in &self.operations {
            writeln!(f, "{key:<36} {:>9} {:>10.1} {:>10.1}", u.requests, u.read_units, u.write_units)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_deltas_per_operation() {
        let mut usage = Usage::default();
        usage.record("DynamoDB", "PutItem", 0.0, 1.0);
        let snapshot = usage.clone();
        usage.record("DynamoDB", "PutItem", 0.0, 2.0);
        usage.record("SQS", "SendMessage", 0.0, 0.0);
        assert_eq!(usage.requests("dynamodb", "PutItem"), 2);
        assert_eq!(usage.service_requests("sqs"), 1);
        let delta = usage.since(&snapshot);
        assert_eq!(delta.total_requests(), 2);
        assert_eq!(delta.operations["dynamodb:PutItem"].write_units, 2.0);
    }

    #[test]
    fn prices_follow_the_list() {
        let prices = PriceTable::US_EAST_1;
        let mut usage = Usage::default();
        for _ in 0..1_000 {
            usage.record("ses", "SendRawEmail", 0.0, 0.0);
            usage.record("sqs", "SendMessage", 0.0, 0.0);
            usage.record("dynamodb", "PutItem", 0.0, 1.0);
            usage.record("kms", "Decrypt", 0.0, 0.0);
        }
        usage.record("ses", "GetSendQuota", 0.0, 0.0);
        let total = prices.dollars(&usage);
        let platform = prices.platform_dollars(&usage);
        assert!((total - platform - 0.10).abs() < 1e-12, "SES costs $0.10 per 1,000");
        // 1,000 SQS ($0.0004) + 1,000 WRU ($0.000625) + 1,000 KMS ($0.003)
        assert!((platform - 0.004025).abs() < 1e-12, "got {platform}");
    }

    #[test]
    fn s3_writes_cost_more_than_reads() {
        let prices = PriceTable::US_EAST_1;
        let one = OperationUsage { requests: 1, ..Default::default() };
        assert!(prices.price("s3:PutObject", &one) > prices.price("s3:GetObject", &one));
    }
}
