//! An enrollment: one contact going through one sequence.
//!
//! The state machine is the guard rail of "the right e-mail, to the right person, at
//! the right time, once": a stopped or finished enrollment never sends again, a step
//! is sent at most once and in order, and a human reply stops it at once whatever is
//! queued. Every change goes through [`Enrollment::apply`], which refuses the
//! transitions that would break those rules.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Replied,
    Unsubscribed,
    Bounced,
    Complained,
    Manual,
    /// A step could not be sent at all (provider refused it, template or contact
    /// incomplete); the step's send record says why.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// `next_step` is the index of the step to send next.
    Active {
        next_step: u32,
    },
    /// Nothing is sent until `until` (unix seconds), then it continues with `next_step`.
    Paused {
        next_step: u32,
        until: i64,
    },
    /// Every step was sent.
    Finished,
    Stopped {
        reason: StopReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Step `step` was sent (recorded after the provider accepted it).
    StepSent {
        step: u32,
    },
    /// An out-of-office reply: pause until the stated return (unix seconds).
    Pause {
        until: i64,
    },
    /// Resume a paused enrollment (the pause ended or a person resumed it).
    Resume,
    Stop(StopReason),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    #[error("the enrollment has ended ({0:?}); nothing more happens to it")]
    Ended(State),
    #[error("step {sent} was sent but step {expected} is next")]
    OutOfOrder { sent: u32, expected: u32 },
    #[error("the enrollment is not paused")]
    NotPaused,
    #[error("a sequence has at least one step")]
    NoSteps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub state: State,
    /// How many steps the sequence has.
    pub steps: u32,
}

impl Enrollment {
    pub fn start(steps: u32) -> Result<Self, TransitionError> {
        if steps == 0 {
            return Err(TransitionError::NoSteps);
        }
        Ok(Self { state: State::Active { next_step: 0 }, steps })
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Finished | State::Stopped { .. })
    }

    /// The step that may be sent at `now` (unix seconds), if any.
    pub fn sendable_step(&self, now: i64) -> Option<u32> {
        match self.state {
            State::Active { next_step } => Some(next_step),
            State::Paused { next_step, until } if now >= until => Some(next_step),
            _ => None,
        }
    }

    pub fn apply(&self, event: Event) -> Result<Enrollment, TransitionError> {
        if self.is_ended() {
            return Err(TransitionError::Ended(self.state));
        }
        let next_step = match self.state {
            State::Active { next_step } | State::Paused { next_step, .. } => next_step,
            State::Finished | State::Stopped { .. } => return Err(TransitionError::Ended(self.state)),
        };
        let state = match event {
            Event::Stop(reason) => State::Stopped { reason },
            Event::StepSent { step } if step != next_step => {
                return Err(TransitionError::OutOfOrder { sent: step, expected: next_step });
            }
            Event::StepSent { step } if step + 1 >= self.steps => State::Finished,
            // A paused enrollment's step may still have been in flight when the pause
            // came; its send is recorded and the pause kept.
            Event::StepSent { step } => match self.state {
                State::Paused { until, .. } => State::Paused { next_step: step + 1, until },
                _ => State::Active { next_step: step + 1 },
            },
            Event::Pause { until } => State::Paused { next_step, until },
            Event::Resume => match self.state {
                State::Paused { next_step, .. } => State::Active { next_step },
                _ => return Err(TransitionError::NotPaused),
            },
        };
        Ok(Enrollment { state, steps: self.steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_sequence_runs_to_the_end() {
        let mut e = Enrollment::start(4).unwrap();
        for step in 0..4 {
            assert_eq!(e.sendable_step(0), Some(step));
            e = e.apply(Event::StepSent { step }).unwrap();
        }
        assert_eq!(e.state, State::Finished);
        assert_eq!(e.sendable_step(0), None);
    }

    #[test]
    fn a_reply_stops_everything_after_it() {
        let e = Enrollment::start(4).unwrap().apply(Event::StepSent { step: 0 }).unwrap();
        let stopped = e.apply(Event::Stop(StopReason::Replied)).unwrap();
        assert_eq!(stopped.sendable_step(i64::MAX), None);
        assert!(matches!(stopped.apply(Event::StepSent { step: 1 }), Err(TransitionError::Ended(_))));
        assert!(matches!(stopped.apply(Event::Resume), Err(TransitionError::Ended(_))));
    }

    #[test]
    fn an_out_of_office_pauses_until_the_return_date() {
        let e = Enrollment::start(3).unwrap().apply(Event::StepSent { step: 0 }).unwrap();
        let paused = e.apply(Event::Pause { until: 1_000 }).unwrap();
        assert_eq!(paused.sendable_step(999), None);
        assert_eq!(paused.sendable_step(1_000), Some(1));
        assert_eq!(paused.apply(Event::Resume).unwrap().state, State::Active { next_step: 1 });
    }

    #[test]
    fn a_step_is_sent_once_and_in_order() {
        let e = Enrollment::start(3).unwrap().apply(Event::StepSent { step: 0 }).unwrap();
        assert_eq!(e.apply(Event::StepSent { step: 0 }), Err(TransitionError::OutOfOrder { sent: 0, expected: 1 }));
        assert_eq!(e.apply(Event::StepSent { step: 2 }), Err(TransitionError::OutOfOrder { sent: 2, expected: 1 }));
        assert_eq!(Enrollment::start(0), Err(TransitionError::NoSteps));
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (0u32..6).prop_map(|step| Event::StepSent { step }),
            (0i64..100).prop_map(|until| Event::Pause { until }),
            Just(Event::Resume),
            prop_oneof![
                Just(StopReason::Replied),
                Just(StopReason::Unsubscribed),
                Just(StopReason::Bounced),
                Just(StopReason::Complained),
                Just(StopReason::Manual)
            ]
            .prop_map(Event::Stop),
        ]
    }

    proptest! {
        /// Whatever happens, in whatever order: steps are sent at most once each and
        /// in order, and nothing is ever sent after a stop or the end.
        #[test]
        fn no_step_twice_nothing_after_the_end(steps in 1u32..6, events in proptest::collection::vec(event(), 0..40)) {
            let mut e = Enrollment::start(steps).unwrap();
            let mut sent = Vec::new();
            let mut ended = false;
            for event in events {
                // A refused transition leaves the enrollment as it was (`e` is not replaced).
                if let Ok(next) = e.apply(event) {
                    prop_assert!(!ended, "a transition after the end");
                    if let Event::StepSent { step } = event { sent.push(step); }
                    e = next;
                    ended = e.is_ended();
                }
            }
            let expected: Vec<u32> = (0..sent.len() as u32).collect();
            prop_assert_eq!(&sent, &expected, "steps in order, each once");
            prop_assert!(sent.len() as u32 <= steps);
            if sent.len() as u32 == steps { prop_assert_eq!(e.state, State::Finished); }
        }
    }
}
