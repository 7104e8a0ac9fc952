//! Where "now" comes from.
//!
//! Production uses [`SystemClock`]. The local platform uses [`AdjustableClock`] so
//! a +14 business-day cadence can be watched in seconds: the dev host moves the
//! offset forward and every handler that was given the clock sees the new time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The shared handle every handler's dependencies carry.
pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Real time plus an offset that only ever moves forward.
///
/// Moving time backwards would let a step that was already claimed look "not yet
/// due" again, which no production clock does; refusing it keeps the local
/// platform honest.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset_ms: AtomicI64,
}

impl AdjustableClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward and returns the new offset from real time.
    pub fn advance(&self, by: Duration) -> Result<Duration, ClockError> {
        let by_ms = i64::try_from(by.whole_milliseconds()).map_err(|_| ClockError::OutOfRange)?;
        if by_ms < 0 {
            return Err(ClockError::Backwards);
        }
        let previous = self.offset_ms.fetch_add(by_ms, Ordering::SeqCst);
        Ok(Duration::milliseconds(previous + by_ms))
    }

    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for AdjustableClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset()
    }
}

/// A clock that stands still until told otherwise: for unit tests of time rules.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn at(at: OffsetDateTime) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the clock only moves forward")]
    Backwards,
    #[error("that step is too large")]
    OutOfRange,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustable_clock_moves_forward_by_the_requested_amount() {
        let clock = AdjustableClock::new();
        let before = clock.now();
        let offset = clock.advance(Duration::days(14)).unwrap();
        assert_eq!(offset, Duration::days(14));
        let after = clock.now();
        assert!(after - before >= Duration::days(14));
        assert!(after - before < Duration::days(14) + Duration::seconds(5));
    }

    #[test]
    fn adjustable_clock_refuses_to_go_back() {
        let clock = AdjustableClock::new();
        clock.advance(Duration::hours(1)).unwrap();
        assert_eq!(clock.advance(Duration::seconds(-1)), Err(ClockError::Backwards));
        assert_eq!(clock.offset(), Duration::hours(1));
    }

    #[test]
    fn fixed_clock_returns_what_it_was_set_to() {
        let t = time::macros::datetime!(2026-11-23 09:00 UTC);
        let clock = FixedClock::at(t);
        assert_eq!(clock.now(), t);
        clock.set(t + Duration::days(2));
        assert_eq!(clock.now(), t + Duration::days(2));
    }
}
