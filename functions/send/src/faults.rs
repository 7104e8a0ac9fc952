//! Crash injection for the exactly-once tests.
//!
//! A fault makes the worker stop dead at a named point between claim and record,
//! as if its process were killed there: nothing after the point runs, nothing is
//! cleaned up, and the job's message is left to SQS to deliver again. Production
//! builds carry the hook but nothing ever sets it.

use std::sync::Arc;
use tern_aws::worker::JobError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultPoint {
    /// The claim is written; the provider has not been called.
    AfterClaim,
    /// The step is marked `sending`; the provider has not been called.
    BeforeProvider,
    /// The provider accepted the message; nothing is recorded yet.
    AfterProvider,
    /// The send is recorded; the enrollment is not advanced yet.
    AfterRecord,
}

impl FaultPoint {
    pub const ALL: [FaultPoint; 4] = [Self::AfterClaim, Self::BeforeProvider, Self::AfterProvider, Self::AfterRecord];
}

/// Decides, at each point, whether the worker dies there.
#[derive(Clone, Default)]
pub struct Faults(Option<Arc<dyn Fn(FaultPoint) -> bool + Send + Sync>>);

impl Faults {
    pub fn none() -> Self {
        Self(None)
    }

    pub fn inject(decide: impl Fn(FaultPoint) -> bool + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(decide)))
    }

    pub(crate) fn check(&self, point: FaultPoint) -> Result<(), JobError> {
        match &self.0 {
            Some(decide) if decide(point) => {
                tracing::warn!(?point, "injected crash");
                Err(JobError::Transient(format!("injected crash at {point:?}")))
            }
            _ => Ok(()),
        }
    }
}
