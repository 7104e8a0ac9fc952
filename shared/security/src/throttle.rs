//! Sign-in throttling policy (pure: the caller stores the failure records).
//!
//! Two keys are throttled independently and the stricter answer wins
//! ([`Decision::stricter`]): the account (keyed by the *normalised identifier
//! the client submitted*, e.g. the blind index of the e-mail) and the source IP.
//!
//! Account enumeration: the caller MUST record failures and apply this policy
//! for identifiers that match no account exactly as for real ones (and run a
//! dummy password verification, see `password::PasswordHasher::verify_dummy`),
//! so delays, lockouts and response times look the same whether or not an
//! account exists.
//!
//! Shape: the first few failures are free; after that each attempt must wait
//! `base · 2^(n-1)` seconds after the last failure (capped); reaching the
//! lockout threshold within the window locks the key for the lockout period.
//! A success clears the account's record (the caller deletes it).
//!
//! Count first, check second: under concurrency a read-decide-check-write loses
//! counts (forty parallel guesses all read the same record). So the caller admits an
//! attempt with [`ThrottlePolicy::admit`], which already counts it as a failure, and
//! stores that record with a conditional write on the record's version *before* it
//! checks the password or code; a lost race re-reads and decides again. The
//! attempt that then turns out right gives its count back ([`ThrottlePolicy::refund`],
//! or the account record is deleted). An attempt in flight therefore counts, so N
//! parallel guesses are N counted attempts and an attempt over the limit is refused
//! without any check.

/// Recent failures for one key. Times are unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailureRecord {
    /// Failures since `first_failure_at`.
    pub count: u32,
    /// Start of the counting window.
    pub first_failure_at: u64,
    /// Most recent failure.
    pub last_failure_at: u64,
}

/// What to do with a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead and check the credentials.
    Allow,
    /// Refuse without checking; retry at `until` (unix seconds). Return 429 with
    /// `Retry-After`.
    Delay {
        /// Earliest retry.
        until: u64,
    },
    /// Locked; refuse without checking until `until`.
    Locked {
        /// End of the lockout.
        until: u64,
    },
}

impl Decision {
    fn severity(self) -> (u8, u64) {
        match self {
            Decision::Allow => (0, 0),
            Decision::Delay { until } => (1, until),
            Decision::Locked { until } => (2, until),
        }
    }

    /// The more restrictive of two decisions (lock over delay over allow; later
    /// `until` wins within a kind).
    pub fn stricter(self, other: Decision) -> Decision {
        if other.severity() > self.severity() { other } else { self }
    }
}

/// Thresholds for one kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before delays start.
    pub free_failures: u32,
    /// First delay, seconds.
    pub base_delay_secs: u64,
    /// Largest delay, seconds.
    pub max_delay_secs: u64,
    /// Failures within `window_secs` that trigger a lockout.
    pub lockout_threshold: u32,
    /// Counting window, seconds.
    pub window_secs: u64,
    /// Lockout length, seconds, from the last failure.
    pub lockout_secs: u64,
}

impl ThrottlePolicy {
    /// Per account: 3 free failures, then 1 s, 2 s, 4 s … (≤ 60 s); 10 failures in
    /// 15 minutes lock the account for 15 minutes.
    pub const ACCOUNT: ThrottlePolicy = ThrottlePolicy {
        free_failures: 3,
        base_delay_secs: 1,
        max_delay_secs: 60,
        lockout_threshold: 10,
        window_secs: 15 * 60,
        lockout_secs: 15 * 60,
    };

    /// Per source IP: higher thresholds, since offices and carrier NAT put many
    /// honest users behind one address.
    pub const SOURCE_IP: ThrottlePolicy = ThrottlePolicy {
        free_failures: 20,
        base_delay_secs: 1,
        max_delay_secs: 60,
        lockout_threshold: 100,
        window_secs: 15 * 60,
        lockout_secs: 15 * 60,
    };

    fn delay_for(&self, count: u32) -> u64 {
        let over = count.saturating_sub(self.free_failures);
        if over == 0 {
            return 0;
        }
        let factor = 1u64.checked_shl(over - 1).unwrap_or(u64::MAX);
        self.base_delay_secs.saturating_mul(factor).min(self.max_delay_secs)
    }

    fn locked_until(&self, r: &FailureRecord) -> Option<u64> {
        (r.count >= self.lockout_threshold).then(|| r.last_failure_at.saturating_add(self.lockout_secs))
    }

    fn window_expired(&self, r: &FailureRecord, now: u64) -> bool {
        now >= r.first_failure_at.saturating_add(self.window_secs)
    }

    /// Decide about an attempt at `now` given the key's record (if any).
    pub fn decide(&self, record: Option<&FailureRecord>, now: u64) -> Decision {
        let Some(r) = record else {
            return Decision::Allow;
        };
        // Each `until` is clamped to `now + the policy maximum`: records written by
        // a Lambda whose clock ran ahead (or corrupted ones) must not lock a key
        // for longer than the policy ever intends.
        if let Some(until) = self.locked_until(r) {
            let until = until.min(now.saturating_add(self.lockout_secs));
            return if now < until { Decision::Locked { until } } else { Decision::Allow };
        }
        if self.window_expired(r, now) {
            return Decision::Allow;
        }
        let until = r.last_failure_at.saturating_add(self.delay_for(r.count)).min(now.saturating_add(self.max_delay_secs));
        if now < until { Decision::Delay { until } } else { Decision::Allow }
    }

    /// The record after a failed attempt at `now`. Starts a fresh window when the
    /// old one has passed (and any lockout has ended).
    pub fn record_failure(&self, record: Option<FailureRecord>, now: u64) -> FailureRecord {
        match record {
            Some(r) if !self.should_reset(&r, now) => FailureRecord {
                count: r.count.saturating_add(1),
                first_failure_at: r.first_failure_at,
                last_failure_at: now.max(r.last_failure_at),
            },
            _ => FailureRecord { count: 1, first_failure_at: now, last_failure_at: now },
        }
    }

    /// Admits an attempt at `now`, counting it as a failure in advance: `Ok(record)`
    /// to store (conditionally) before checking anything, or `Err(until)`: refused
    /// unchecked, retry at `until`.
    pub fn admit(&self, record: Option<FailureRecord>, now: u64) -> Result<FailureRecord, u64> {
        match self.decide(record.as_ref(), now) {
            Decision::Allow => Ok(self.record_failure(record, now)),
            Decision::Delay { until } | Decision::Locked { until } => Err(until),
        }
    }

    /// The record after an admitted attempt turned out not to be a failure: its
    /// advance count is given back (the times stay, which can only err on the strict
    /// side).
    pub fn refund(&self, record: FailureRecord) -> FailureRecord {
        FailureRecord { count: record.count.saturating_sub(1), ..record }
    }

    fn should_reset(&self, r: &FailureRecord, now: u64) -> bool {
        match self.locked_until(r) {
            Some(until) => now >= until,
            None => self.window_expired(r, now),
        }
    }

    /// When the caller may delete the record (DynamoDB TTL).
    pub fn record_expires_at(&self, r: &FailureRecord) -> u64 {
        let window_end = r.first_failure_at.saturating_add(self.window_secs);
        self.locked_until(r).map_or(window_end, |l| l.max(window_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: u64 = 1_700_000_000;
    const P: ThrottlePolicy = ThrottlePolicy::ACCOUNT;

    /// Fail `n` times, each as early as the policy allows, starting at `start`.
    fn fail_n(policy: &ThrottlePolicy, n: u32, start: u64) -> (Option<FailureRecord>, u64) {
        let mut rec = None;
        let mut now = start;
        for _ in 0..n {
            match policy.decide(rec.as_ref(), now) {
                Decision::Allow => {}
                Decision::Delay { until } | Decision::Locked { until } => now = until,
            }
            rec = Some(policy.record_failure(rec, now));
        }
        (rec, now)
    }

    #[test]
    fn free_failures_then_doubling_delays_capped() {
        assert_eq!(P.decide(None, T), Decision::Allow);
        let mut rec = None;
        for _ in 0..3 {
            rec = Some(P.record_failure(rec, T));
            assert_eq!(P.decide(rec.as_ref(), T), Decision::Allow);
        }
        let expected = [1, 2, 4, 8, 16, 32];
        for want in expected {
            rec = Some(P.record_failure(rec, T));
            assert_eq!(P.decide(rec.as_ref(), T), Decision::Delay { until: T + want });
            assert_eq!(P.decide(rec.as_ref(), T + want), Decision::Allow);
        }
        assert_eq!(P.delay_for(9), 32);
        assert_eq!(P.delay_for(10), 60, "capped");
        assert_eq!(P.delay_for(u32::MAX), 60, "no overflow");
    }

    #[test]
    fn ten_failures_in_window_lock_for_15_minutes() {
        let (rec, last) = fail_n(&P, 10, T);
        assert!(last < T + 15 * 60, "all ten fit in the window");
        let until = last + 15 * 60;
        assert_eq!(P.decide(rec.as_ref(), last + 1), Decision::Locked { until });
        assert_eq!(P.decide(rec.as_ref(), until - 1), Decision::Locked { until });
        assert_eq!(P.decide(rec.as_ref(), until), Decision::Allow);
        // After the lockout a failure starts a fresh window.
        let after = P.record_failure(rec, until);
        assert_eq!(after, FailureRecord { count: 1, first_failure_at: until, last_failure_at: until });
        assert_eq!(P.record_expires_at(&rec.unwrap()), until);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let mut rec = None;
        for i in 0..30u64 {
            // One failure every 5 minutes: the window keeps resetting.
            let now = T + i * 300;
            assert!(!matches!(P.decide(rec.as_ref(), now), Decision::Locked { .. }), "i={i}");
            rec = Some(P.record_failure(rec, now));
        }
        assert!(rec.unwrap().count < P.lockout_threshold);
    }

    #[test]
    fn ip_policy_is_more_lenient() {
        let (rec, _) = fail_n(&ThrottlePolicy::SOURCE_IP, 10, T);
        let r = rec.unwrap();
        assert_eq!(ThrottlePolicy::SOURCE_IP.decide(Some(&r), r.last_failure_at), Decision::Allow);
        assert!(matches!(P.decide(Some(&r), r.last_failure_at), Decision::Locked { .. }));
        // 100 failures recorded in one burst (concurrent requests that all passed
        // the check before any failure was written) lock the IP.
        let mut rec = None;
        for _ in 0..100 {
            rec = Some(ThrottlePolicy::SOURCE_IP.record_failure(rec, T));
        }
        assert_eq!(ThrottlePolicy::SOURCE_IP.decide(rec.as_ref(), T + 1), Decision::Locked { until: T + 15 * 60 });
    }

    #[test]
    fn records_from_the_future_cannot_lock_forever() {
        let r = FailureRecord { count: 50, first_failure_at: T + 1_000_000, last_failure_at: T + 1_000_000 };
        assert_eq!(P.decide(Some(&r), T), Decision::Locked { until: T + P.lockout_secs });
        let r = FailureRecord { count: 5, first_failure_at: T + 1_000_000, last_failure_at: T + 1_000_000 };
        assert_eq!(P.decide(Some(&r), T), Decision::Delay { until: T + P.max_delay_secs });
    }

    #[test]
    fn admitting_counts_in_advance_so_a_burst_is_cut_off_at_the_limit() {
        // Forty attempts at the same instant, each admitted against the record the
        // previous one stored: only the free failures and the first delayed one pass.
        let mut rec = None;
        let mut admitted = 0;
        for _ in 0..40 {
            match P.admit(rec, T) {
                Ok(next) => {
                    rec = Some(next);
                    admitted += 1;
                }
                Err(until) => assert_eq!(until, T + 1),
            }
        }
        assert_eq!(admitted, P.free_failures + 1);
        assert_eq!(rec.unwrap().count, admitted);
    }

    #[test]
    fn a_refund_gives_back_one_count_and_never_underflows() {
        let rec = P.admit(None, T).unwrap();
        assert_eq!(P.refund(rec).count, 0);
        assert_eq!(P.refund(P.refund(rec)).count, 0);
        assert_eq!(P.decide(Some(&P.refund(rec)), T), Decision::Allow);
    }

    #[test]
    fn stricter_combines() {
        let a = Decision::Delay { until: 5 };
        let l = Decision::Locked { until: 3 };
        assert_eq!(Decision::Allow.stricter(a), a);
        assert_eq!(a.stricter(l), l);
        assert_eq!(l.stricter(a), l);
        assert_eq!(a.stricter(Decision::Delay { until: 9 }), Decision::Delay { until: 9 });
    }

    proptest! {
        #[test]
        fn never_panics_and_delay_is_bounded(count in any::<u32>(), first in any::<u64>(), gap in any::<u64>(), now in any::<u64>()) {
            let r = FailureRecord { count, first_failure_at: first, last_failure_at: first.saturating_add(gap) };
            match P.decide(Some(&r), now) {
                Decision::Allow => {}
                Decision::Delay { until } => prop_assert!(until - now <= P.max_delay_secs),
                Decision::Locked { until } => prop_assert!(until - now <= P.lockout_secs),
            }
            let _ = P.record_failure(Some(r), now);
            let _ = P.record_expires_at(&r);
        }
    }
}
