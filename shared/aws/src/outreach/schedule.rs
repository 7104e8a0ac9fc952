//! When an enrollment's next step is due: the sequence's window and cadence, the
//! workspace's holidays, in the contact's zone when the sequence says so. One
//! function shared by the API (enrolling), the send worker (after each step) and the
//! classify worker (resuming after an out-of-office), so they cannot disagree.

use super::{EnrollmentRecord, Sequence};
use crate::entities::Workspace;
use jiff::Timestamp;
use tern_domain::cadence::{CadenceError, Calendar};
use tern_domain::enrollment::State;

/// The calendar an enrollment is scheduled in.
pub fn calendar(workspace: &Workspace, sequence: &Sequence, contact_timezone: Option<&str>) -> Result<Calendar, CadenceError> {
    let contact_zone = contact_timezone.filter(|_| sequence.use_contact_timezone).filter(|z| jiff::tz::TimeZone::get(z).is_ok());
    let zone = contact_zone.or(sequence.timezone.as_deref()).unwrap_or(&workspace.timezone);
    Calendar::new(zone, sequence.window.clone(), workspace.holidays.iter().copied().collect())
}

fn ts(unix: i64) -> Result<Timestamp, CadenceError> {
    Timestamp::from_second(unix).map_err(|_| CadenceError::OutOfRange)
}

/// When `step` is due: the first step at the first open slot after enrolment, a
/// follow-up its business days after the first e-mail, moved into the window.
pub fn step_due(calendar: &Calendar, sequence: &Sequence, enrollment: &EnrollmentRecord, step: u32) -> Result<i64, CadenceError> {
    let business_days = sequence.steps.get(step as usize).map_or(0, |s| s.business_days);
    let due = match (step, enrollment.first_sent_at) {
        (0, _) | (_, None) => calendar.next_send_slot(ts(enrollment.enrolled_at)?)?,
        // To the minute: dispatch runs once a minute, and a first e-mail that left
        // a few seconds after its slot should not push every follow-up past it.
        (_, Some(first)) => calendar.follow_up_due(ts(first - first.rem_euclid(60))?, business_days)?,
    };
    Ok(due.as_second())
}

/// The next `(step, due at)` of an enrollment in its current state, or `None` when
/// nothing more is sent (finished, stopped, or waiting for a person).
pub fn next_due(calendar: &Calendar, sequence: &Sequence, enrollment: &EnrollmentRecord) -> Result<Option<(u32, i64)>, CadenceError> {
    if enrollment.parked_step.is_some() {
        return Ok(None);
    }
    match enrollment.machine.state {
        State::Active { next_step } => Ok(Some((next_step, step_due(calendar, sequence, enrollment, next_step)?))),
        State::Paused { next_step, until } => {
            let due = step_due(calendar, sequence, enrollment, next_step)?;
            let resume = calendar.next_send_slot(ts(until)?)?.as_second();
            Ok(Some((next_step, due.max(resume))))
        }
        State::Finished | State::Stopped { .. } => Ok(None),
    }
}
