//! How much a mailbox may send: the warm-up ramp, the health brake, and the time
//! windows the send counters are kept in.
//!
//! A new mailbox that suddenly sends hundreds of cold e-mails a day looks like a
//! spammer to receivers, and one whose mail bounces or draws complaints is about to
//! be treated as one. So a mailbox starts small and grows by a fixed step each day it
//! has been active, up to the workspace's cap, and the step back is automatic when
//! its recent bounces or complaints rise.
//!
//! The send path keeps atomic counters per window (a mailbox's local day, a
//! recipient domain's UTC hour, a workspace's local month). The `*_key` functions
//! name a window; the `next_*` functions say when it ends, which is when the counter
//! may expire. Local windows follow the zone's rules, so a day is 23 or 25 hours long
//! across a DST change and still ends at local midnight.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{RoundMode, Timestamp, ToSpan, Unit, Zoned, ZonedRound};
use serde::{Deserialize, Serialize};

/// A mailbox's sending limits. The defaults are conservative for cold outreach from a
/// fresh mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingLimits {
    /// The most a fully warmed-up, healthy mailbox sends in one local day.
    pub daily_cap: u32,
    /// What the mailbox may send on its first day.
    pub warmup_start: u32,
    /// How much more it may send each further day it has been active.
    pub warmup_daily_increase: u32,
    /// The most sent to one recipient domain in one UTC hour, so a single company's
    /// mail server never sees a burst from us.
    pub per_domain_hourly: u32,
    /// The least time between two sends from the mailbox, so sending looks human.
    pub min_spacing_seconds: u32,
}

impl Default for SendingLimits {
    fn default() -> Self {
        Self { daily_cap: 200, warmup_start: 20, warmup_daily_increase: 10, per_domain_hourly: 20, min_spacing_seconds: 60 }
    }
}

/// What happened to a mailbox's recent mail (over a recent window, e.g. 7 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub sent: u32,
    pub hard_bounces: u32,
    pub complaints: u32,
}

/// Fewer sends than this say nothing about health: one bounce in ten is noise.
pub const MIN_SENT_FOR_HEALTH: u32 = 50;

/// How worried to be about a mailbox's recent mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum HealthLevel {
    Good,
    /// Over 3% hard bounces or 0.1% complaints.
    Poor,
    /// Over 8% hard bounces or 0.3% complaints.
    Bad,
}

impl Health {
    fn level(&self) -> HealthLevel {
        if self.sent < MIN_SENT_FOR_HEALTH {
            return HealthLevel::Good;
        }
        // Rates compared in whole numbers (bounces/sent > 3/100 ⇔ bounces·100 > 3·sent),
        // so there is no rounding and no division.
        let sent = u64::from(self.sent);
        let bounces = u64::from(self.hard_bounces);
        let complaints = u64::from(self.complaints);
        if bounces * 100 > 8 * sent || complaints * 1000 > 3 * sent {
            HealthLevel::Bad
        } else if bounces * 100 > 3 * sent || complaints * 1000 > sent {
            HealthLevel::Poor
        } else {
            HealthLevel::Good
        }
    }
}

/// Today's cap for a mailbox `days_active` days after its first send (0 on the first
/// day): the warm-up start plus one increase per day, never above `daily_cap`.
///
/// Poor health (with at least [`MIN_SENT_FOR_HEALTH`] sent: over 3% hard bounces or
/// 0.1% complaints) halves it; bad health (over 8% or 0.3%) drops it to the warm-up
/// start value, or to the halved value if that is lower, so worse health never allows
/// more. The result is never 0 unless `daily_cap` is 0: a mailbox that may send at
/// all keeps sending a trickle, or its health could never be measured again.
pub fn daily_limit(limits: &SendingLimits, days_active: u32, health: &Health) -> u32 {
    let ramp = limits.warmup_start.saturating_add(limits.warmup_daily_increase.saturating_mul(days_active)).min(limits.daily_cap);
    let limit = match health.level() {
        HealthLevel::Good => ramp,
        HealthLevel::Poor => ramp / 2,
        HealthLevel::Bad => (ramp / 2).min(limits.warmup_start),
    };
    if limits.daily_cap == 0 { 0 } else { limit.max(1) }
}

/// The local calendar day `at` falls on in `zone`.
pub fn local_day(at: Timestamp, zone: &TimeZone) -> Date {
    at.to_zoned(zone.clone()).date()
}

/// The first instant of the local day after the one `at` falls on: usually local
/// midnight, or the first instant that exists where a DST change skips midnight.
///
/// Like every `next_*` function here, past the end of jiff's range (the year 9999)
/// this saturates at [`Timestamp::MAX`] instead of failing.
pub fn next_local_midnight(at: Timestamp, zone: &TimeZone) -> Timestamp {
    local_day(at, zone).tomorrow().and_then(|tomorrow| tomorrow.to_zoned(zone.clone())).map_or(Timestamp::MAX, |start| start.timestamp())
}

/// The key of the UTC hour `at` falls in, e.g. `2026-11-23T14`.
pub fn utc_hour_key(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H").to_string()
}

/// The start of the UTC hour after the one `at` falls in.
pub fn next_utc_hour(at: Timestamp) -> Timestamp {
    let hour_start = at.to_zoned(TimeZone::UTC).round(ZonedRound::new().smallest(Unit::Hour).mode(RoundMode::Trunc));
    hour_start.and_then(|start| start.checked_add(1.hour())).map_or(Timestamp::MAX, |next| next.timestamp())
}

/// The key of the local month `at` falls in, e.g. `2026-11`.
pub fn local_month_key(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone()).strftime("%Y-%m").to_string()
}

/// The first instant of the local month after the one `at` falls in.
pub fn next_local_month_start(at: Timestamp, zone: &TimeZone) -> Timestamp {
    local_day(at, zone)
        .first_of_month()
        .checked_add(1.month())
        .and_then(|first_of_next_month| first_of_next_month.to_zoned(zone.clone()))
        .map_or(Timestamp::MAX, |start: Zoned| start.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const ZONES: &[&str] = &["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"];

    fn instant(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn health(sent: u32, hard_bounces: u32, complaints: u32) -> Health {
        Health { sent, hard_bounces, complaints }
    }

    #[test]
    fn the_ramp_grows_by_the_daily_increase_up_to_the_cap() {
        let limits = SendingLimits::default();
        let healthy = Health::default();
        let ramp: Vec<u32> = [0, 1, 2, 17, 18, 19, 1000].iter().map(|day| daily_limit(&limits, *day, &healthy)).collect();
        assert_eq!(ramp, vec![20, 30, 40, 190, 200, 200, 200]);
        assert_eq!(daily_limit(&limits, u32::MAX, &healthy), 200, "no overflow");
    }

    #[test]
    fn poor_health_halves_and_bad_health_drops_to_the_start() {
        let limits = SendingLimits::default();
        let warmed_up = 100;
        assert_eq!(daily_limit(&limits, warmed_up, &health(1000, 30, 1)), 200, "exactly 3% and 0.1% are fine");
        assert_eq!(daily_limit(&limits, warmed_up, &health(1000, 31, 0)), 100, "bounces over 3%");
        assert_eq!(daily_limit(&limits, warmed_up, &health(1000, 0, 2)), 100, "complaints over 0.1%");
        assert_eq!(daily_limit(&limits, warmed_up, &health(1000, 81, 0)), 20, "bounces over 8%");
        assert_eq!(daily_limit(&limits, warmed_up, &health(1000, 0, 4)), 20, "complaints over 0.3%");
        // On the first day the halved ramp (10) is below the start value (20).
        assert_eq!(daily_limit(&limits, 0, &health(100, 50, 0)), 10);
    }

    #[test]
    fn health_needs_fifty_sends_to_count() {
        let limits = SendingLimits::default();
        assert_eq!(daily_limit(&limits, 100, &health(49, 49, 49)), 200);
        assert_eq!(daily_limit(&limits, 100, &health(50, 5, 0)), 20);
    }

    #[test]
    fn the_limit_is_zero_only_when_the_cap_is() {
        let tiny = SendingLimits { daily_cap: 1, warmup_start: 1, warmup_daily_increase: 0, ..Default::default() };
        assert_eq!(daily_limit(&tiny, 0, &health(1000, 1000, 1000)), 1);
        let off = SendingLimits { daily_cap: 0, ..Default::default() };
        assert_eq!(daily_limit(&off, 100, &Health::default()), 0);
        let no_start = SendingLimits { warmup_start: 0, warmup_daily_increase: 0, ..Default::default() };
        assert_eq!(daily_limit(&no_start, 5, &Health::default()), 1);
    }

    #[test]
    fn keys_name_the_window() {
        let at = instant("2026-11-23T14:59:59.999Z");
        assert_eq!(utc_hour_key(at), "2026-11-23T14");
        assert_eq!(next_utc_hour(at), instant("2026-11-23T15:00:00Z"));
        assert_eq!(next_utc_hour(instant("2026-12-31T23:00:00Z")), instant("2027-01-01T00:00:00Z"));
        // 23:30 UTC on 30 November is already December in Berlin.
        let berlin = zone("Europe/Berlin");
        assert_eq!(local_month_key(instant("2026-11-30T23:30:00Z"), &berlin), "2026-12");
        assert_eq!(local_day(instant("2026-11-30T23:30:00Z"), &berlin), date(2026, 12, 1));
    }

    #[test]
    fn local_days_end_at_local_midnight_across_dst() {
        let berlin = zone("Europe/Berlin");
        // The 23-hour day when Berlin springs forward (29 March 2026).
        assert_eq!(next_local_midnight(instant("2026-03-29T12:00:00Z"), &berlin), instant("2026-03-29T22:00:00Z"));
        assert_eq!(next_local_midnight(instant("2026-03-28T12:00:00Z"), &berlin), instant("2026-03-28T23:00:00Z"));
        // Lord Howe moves by half an hour.
        let lord_howe = zone("Australia/Lord_Howe");
        assert_eq!(next_local_midnight(instant("2026-04-04T20:00:00Z"), &lord_howe), instant("2026-04-05T13:30:00Z"));
    }

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_at_its_first_instant() {
        // Havana moved its clocks from 00:00 to 01:00 on 8 March 2026.
        let havana = zone("America/Havana");
        let start = next_local_midnight(instant("2026-03-07T12:00:00Z"), &havana);
        assert_eq!(start, instant("2026-03-08T05:00:00Z"), "01:00 CDT");
        assert_eq!(local_day(start, &havana), date(2026, 3, 8));
    }

    #[test]
    fn months_end_at_the_local_new_year() {
        let chatham = zone("Pacific/Chatham");
        let at = instant("2026-12-31T10:00:00Z"); // 23:45 on 31 December in Chatham (+13:45)
        assert_eq!(local_month_key(at, &chatham), "2026-12");
        assert_eq!(next_local_month_start(at, &chatham), instant("2026-12-31T10:15:00Z"));
    }

    #[test]
    fn the_end_of_time_saturates_instead_of_panicking() {
        assert_eq!(next_utc_hour(Timestamp::MAX), Timestamp::MAX);
        assert_eq!(next_local_midnight(Timestamp::MAX, &zone("Pacific/Chatham")), Timestamp::MAX);
        assert_eq!(next_local_month_start(Timestamp::MAX, &zone("Europe/Berlin")), Timestamp::MAX);
        let _ = utc_hour_key(Timestamp::MIN);
        let _ = local_month_key(Timestamp::MIN, &zone("America/New_York"));
    }

    /// Instants from 2020 to 2040, where the DST rules are the ones in use.
    fn an_instant() -> impl Strategy<Value = Timestamp> {
        (1_577_836_800i64..2_208_988_800, 0i32..1_000_000_000).prop_map(|(second, nanosecond)| Timestamp::new(second, nanosecond).unwrap())
    }

    fn a_zone() -> impl Strategy<Value = TimeZone> {
        proptest::sample::select(ZONES).prop_map(zone)
    }

    fn a_health() -> impl Strategy<Value = Health> {
        (0u32..2000, 0u32..200, 0u32..20).prop_map(|(sent, hard_bounces, complaints)| health(sent, hard_bounces, complaints))
    }

    fn some_limits() -> impl Strategy<Value = SendingLimits> {
        (0u32..1000, 0u32..100, 0u32..100).prop_map(|(daily_cap, warmup_start, warmup_daily_increase)| SendingLimits {
            daily_cap,
            warmup_start,
            warmup_daily_increase,
            ..Default::default()
        })
    }

    proptest! {
        #[test]
        fn the_ramp_is_monotonic_and_bounded(limits in some_limits(), health in a_health(), day in 0u32..400) {
            let today = daily_limit(&limits, day, &health);
            let tomorrow = daily_limit(&limits, day + 1, &health);
            prop_assert!(today <= tomorrow);
            prop_assert!(tomorrow <= limits.daily_cap);
            prop_assert_eq!(today == 0, limits.daily_cap == 0);
        }

        #[test]
        fn worse_health_never_allows_more(limits in some_limits(), day in 0u32..400, sent in 50u32..2000, bounces in 0u32..200) {
            let fewer = daily_limit(&limits, day, &health(sent, bounces, 0));
            let more = daily_limit(&limits, day, &health(sent, bounces + 10, 0));
            prop_assert!(more <= fewer);
        }

        #[test]
        fn the_next_local_midnight_starts_the_next_day(at in an_instant(), zone in a_zone()) {
            let next = next_local_midnight(at, &zone);
            prop_assert!(next > at);
            let today = local_day(at, &zone);
            prop_assert_eq!(local_day(next, &zone), today.tomorrow().unwrap());
            // A boundary: one nanosecond earlier is still today.
            prop_assert_eq!(local_day(next - 1.nanosecond(), &zone), today);
        }

        #[test]
        fn the_next_utc_hour_starts_the_next_hour(at in an_instant()) {
            let next = next_utc_hour(at);
            prop_assert!(next > at);
            prop_assert!(next.as_second() % 3600 == 0 && next.subsec_nanosecond() == 0);
            prop_assert!(next.as_second() - at.as_second() <= 3600);
            prop_assert_eq!(utc_hour_key(next - 1.nanosecond()), utc_hour_key(at));
        }

        #[test]
        fn the_next_month_starts_the_next_month(at in an_instant(), zone in a_zone()) {
            let next = next_local_month_start(at, &zone);
            prop_assert!(next > at);
            prop_assert_ne!(local_month_key(next, &zone), local_month_key(at, &zone));
            prop_assert_eq!(local_day(next, &zone).day(), 1);
            prop_assert_eq!(local_month_key(next - 1.nanosecond(), &zone), local_month_key(at, &zone));
        }
    }
}
