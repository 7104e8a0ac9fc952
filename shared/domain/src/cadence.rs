//! When a sequence step is due: business days, holidays and send windows in a
//! named time zone.
//!
//! Follow-ups go out +2, +5 and +14 business days after the first e-mail by default.
//! A business day is a weekday that is not one of the workspace's holidays; a step is
//! sent inside the send window (e.g. Mon–Fri 08:00–18:00) of the recipient's zone
//! (or the workspace's). Civil times are turned into instants with the zone's rules,
//! so a window opening at 08:00 opens at 08:00 local on both sides of a DST change,
//! and a local time that does not exist (the skipped hour) moves forward.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The default follow-up cadence: business days after the first e-mail.
pub const DEFAULT_CADENCE: [u32; 3] = [2, 5, 14];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CadenceError {
    #[error("unknown time zone `{0}`")]
    UnknownZone(String),
    #[error("the send window must open before it closes and include at least one weekday")]
    EmptyWindow,
    #[error("that date is outside the supported range")]
    OutOfRange,
}

/// When mail may go out, in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    /// Days mail may be sent on (Monday first).
    pub days: BTreeSet<WeekdayName>,
    pub opens: Time,
    pub closes: Time,
}

/// A weekday, serialised by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeekdayName {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<Weekday> for WeekdayName {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => Self::Monday,
            Weekday::Tuesday => Self::Tuesday,
            Weekday::Wednesday => Self::Wednesday,
            Weekday::Thursday => Self::Thursday,
            Weekday::Friday => Self::Friday,
            Weekday::Saturday => Self::Saturday,
            Weekday::Sunday => Self::Sunday,
        }
    }
}

impl SendWindow {
    /// Monday to Friday, 08:00 to 18:00.
    pub fn office_hours() -> Self {
        use WeekdayName::*;
        Self {
            days: [Monday, Tuesday, Wednesday, Thursday, Friday].into_iter().collect(),
            opens: Time::constant(8, 0, 0, 0),
            closes: Time::constant(18, 0, 0, 0),
        }
    }
}

/// Everything that decides when a step may be sent.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    window: SendWindow,
    holidays: BTreeSet<Date>,
}

impl Calendar {
    pub fn new(zone: &str, window: SendWindow, holidays: BTreeSet<Date>) -> Result<Self, CadenceError> {
        let zone = TimeZone::get(zone).map_err(|_| CadenceError::UnknownZone(zone.chars().take(64).collect()))?;
        if window.opens >= window.closes || window.days.is_empty() {
            return Err(CadenceError::EmptyWindow);
        }
        Ok(Self { zone, window, holidays })
    }

    /// A business day: a weekday that is not a holiday.
    pub fn is_business_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.holidays.contains(&date)
    }

    /// The date `n` business days after `date` (`n = 0` is `date` itself).
    pub fn add_business_days(&self, date: Date, n: u32) -> Result<Date, CadenceError> {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            day = day.tomorrow().map_err(|_| CadenceError::OutOfRange)?;
            if self.is_business_day(day) {
                left -= 1;
            }
        }
        Ok(day)
    }

    fn sendable_day(&self, date: Date) -> bool {
        self.window.days.contains(&date.weekday().into()) && !self.holidays.contains(&date)
    }

    fn at(&self, date: Date, time: Time) -> Result<Zoned, CadenceError> {
        // `Compatible`: a skipped local time moves forward, a repeated one takes the first.
        date.to_datetime(time).to_zoned(self.zone.clone()).map_err(|_| CadenceError::OutOfRange)
    }

    /// The first instant of `date` in this calendar's zone.
    pub fn start_of(&self, date: Date) -> Result<Timestamp, CadenceError> {
        Ok(self.at(date, Time::midnight())?.timestamp())
    }

    /// The first moment at or after `instant` when the window is open.
    pub fn next_send_slot(&self, instant: Timestamp) -> Result<Timestamp, CadenceError> {
        let local = instant.to_zoned(self.zone.clone());
        let mut date = local.date();
        // A window is found within a few weeks even with long holiday runs; the bound
        // keeps a pathological calendar (every day a holiday) from looping forever.
        for _ in 0..400 {
            if self.sendable_day(date) {
                let opens = self.at(date, self.window.opens)?;
                let closes = self.at(date, self.window.closes)?;
                if instant < closes.timestamp() {
                    return Ok(instant.max(opens.timestamp()));
                }
            }
            date = date.tomorrow().map_err(|_| CadenceError::OutOfRange)?;
        }
        Err(CadenceError::EmptyWindow)
    }

    /// When follow-up `business_days` after a first e-mail sent at `first_sent` is due:
    /// that many business days later in local time, at the same local time of day,
    /// moved into the send window.
    pub fn follow_up_due(&self, first_sent: Timestamp, business_days: u32) -> Result<Timestamp, CadenceError> {
        let local = first_sent.to_zoned(self.zone.clone());
        let date = self.add_business_days(local.date(), business_days)?;
        let candidate = self.at(date, local.time())?;
        self.next_send_slot(candidate.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn berlin(holidays: &[Date]) -> Calendar {
        Calendar::new("Europe/Berlin", SendWindow::office_hours(), holidays.iter().copied().collect()).unwrap()
    }

    fn instant(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_cadence_from_a_tuesday() {
        let cal = berlin(&[]);
        let first = date(2026, 11, 24); // Tuesday
        let due: Vec<Date> = DEFAULT_CADENCE.iter().map(|n| cal.add_business_days(first, *n).unwrap()).collect();
        assert_eq!(due, vec![date(2026, 11, 26), date(2026, 12, 1), date(2026, 12, 14)]);
    }

    #[test]
    fn weekends_and_holidays_are_skipped_across_the_year_end() {
        let cal = berlin(&[date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31), date(2027, 1, 1)]);
        // Wed 23 Dec + 2 business days: Thu 24 and Fri 25 are holidays, the weekend follows.
        assert_eq!(cal.add_business_days(date(2026, 12, 23), 2).unwrap(), date(2026, 12, 29));
        assert_eq!(cal.add_business_days(date(2026, 12, 30), 1).unwrap(), date(2027, 1, 4));
    }

    #[test]
    fn a_reply_window_opens_at_eight_local_on_both_sides_of_dst() {
        let cal = berlin(&[]);
        // Saturday 28 March 2026, the night before Berlin moves to summer time.
        let slot = cal.next_send_slot(instant("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(slot, instant("2026-03-30T06:00:00Z"), "08:00 CEST is 06:00 UTC");
        let slot = cal.next_send_slot(instant("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(slot, instant("2026-10-26T07:00:00Z"), "08:00 CET is 07:00 UTC");
    }

    #[test]
    fn a_local_time_inside_the_spring_gap_moves_forward() {
        // A window opening at 02:30 on the day 02:00–03:00 does not exist.
        let mut window = SendWindow::office_hours();
        window.days.insert(WeekdayName::Sunday);
        window.opens = Time::constant(2, 30, 0, 0);
        let cal = Calendar::new("Europe/Berlin", window, BTreeSet::new()).unwrap();
        let slot = cal.next_send_slot(instant("2026-03-29T00:00:00Z")).unwrap();
        assert_eq!(slot, instant("2026-03-29T01:30:00Z"), "02:30 does not exist; 03:30 CEST is 01:30 UTC");
    }

    #[test]
    fn follow_ups_keep_the_local_time_of_day() {
        let cal = Calendar::new("America/New_York", SendWindow::office_hours(), BTreeSet::new()).unwrap();
        // Friday 30 October 2026, 10:15 EDT; +2 business days is Tuesday 3 November, after DST ends.
        let due = cal.follow_up_due(instant("2026-10-30T14:15:00Z"), 2).unwrap();
        assert_eq!(due, instant("2026-11-03T15:15:00Z"), "10:15 EST is 15:15 UTC");
    }

    #[test]
    fn late_first_sends_move_into_the_next_window() {
        let cal = berlin(&[]);
        // Thursday 21:00 local: +1 business day lands Friday 21:00, outside the window → Monday 08:00.
        let due = cal.follow_up_due(instant("2026-11-26T20:00:00Z"), 1).unwrap();
        assert_eq!(due, instant("2026-11-30T07:00:00Z"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(
            Calendar::new("Mars/Olympus", SendWindow::office_hours(), BTreeSet::new()).unwrap_err(),
            CadenceError::UnknownZone("Mars/Olympus".into())
        );
        let mut window = SendWindow::office_hours();
        window.closes = window.opens;
        assert_eq!(Calendar::new("UTC", window, BTreeSet::new()).unwrap_err(), CadenceError::EmptyWindow);
    }

    const ZONES: [&str; 6] = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo", "UTC"];

    proptest! {
        #[test]
        fn adding_business_days_counts_exactly_n_business_days(
            days_since_2020 in 0i32..4000, n in 0u32..60, holiday_offsets in proptest::collection::btree_set(0i32..4100, 0..40)
        ) {
            let base = date(2020, 1, 1);
            let start = base.checked_add(jiff::Span::new().days(days_since_2020)).unwrap();
            let holidays: BTreeSet<Date> = holiday_offsets.iter().map(|o| base.checked_add(jiff::Span::new().days(*o)).unwrap()).collect();
            let cal = Calendar::new("UTC", SendWindow::office_hours(), holidays).unwrap();
            let end = cal.add_business_days(start, n).unwrap();
            prop_assert!(end >= start);
            if n > 0 {
                prop_assert!(cal.is_business_day(end));
            }
            let mut counted = 0;
            let mut day = start;
            while day < end {
                day = day.tomorrow().unwrap();
                if cal.is_business_day(day) { counted += 1; }
            }
            prop_assert_eq!(counted, n);
        }

        #[test]
        fn a_send_slot_is_never_early_and_always_inside_the_window(
            seconds in 1_577_836_800i64..1_893_456_000, zone in 0usize..ZONES.len(), holiday_offsets in proptest::collection::btree_set(0i32..3700, 0..30)
        ) {
            let base = date(2020, 1, 1);
            let holidays: BTreeSet<Date> = holiday_offsets.iter().map(|o| base.checked_add(jiff::Span::new().days(*o)).unwrap()).collect();
            let cal = Calendar::new(ZONES[zone], SendWindow::office_hours(), holidays.clone()).unwrap();
            let now = Timestamp::from_second(seconds).unwrap();
            let slot = cal.next_send_slot(now).unwrap();
            prop_assert!(slot >= now);
            let local = slot.to_zoned(TimeZone::get(ZONES[zone]).unwrap());
            prop_assert!(cal.is_business_day(local.date()));
            prop_assert!(local.time() >= Time::constant(8, 0, 0, 0) && local.time() < Time::constant(18, 0, 0, 0), "{local}");
            // Idempotent: a slot is its own next slot.
            prop_assert_eq!(cal.next_send_slot(slot).unwrap(), slot);
        }
    }
}
