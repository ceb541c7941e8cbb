//! Working hours in a team's time zone, and deadlines counted in working time only.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use earshot_core::routing::WorkingRangeConfig;

const MINUTES_PER_DAY: u32 = 24 * 60;

/// Why working hours or a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("unknown time zone {0:?} (use an IANA name such as \"Europe/Athens\" or \"UTC\")")]
    TimeZone(String),
    #[error("unknown day {0:?} (use mon, tue, wed, thu, fri, sat, sun)")]
    Day(String),
    #[error("time {0:?} is not HH:MM between 00:00 and 24:00")]
    Time(String),
    #[error(
        "range {start}-{end} ends before it starts (write a shift past midnight as two ranges)"
    )]
    EmptyRange { start: String, end: String },
    #[error("a range names no days")]
    NoDays,
    #[error("duration {0:?} is not like \"1h\", \"30m\" or \"1h30m\"")]
    Duration(String),
}

/// When a team works: ranges of local minutes per weekday (Monday first), in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingHours {
    timezone: Tz,
    /// Sorted, non-overlapping `[start, end)` minutes since local midnight; `end` may be 1440.
    days: [Vec<(u32, u32)>; 7],
}

impl WorkingHours {
    /// Monday to Friday, 09:00 to 18:00 UTC.
    pub fn office_week_utc() -> Self {
        WorkingHours::parse("UTC", &[WorkingRangeConfig::office_week()])
            .expect("the built-in office week is valid")
    }

    /// Every minute of every day, in UTC.
    pub fn always() -> Self {
        WorkingHours {
            timezone: Tz::UTC,
            days: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
        }
    }

    pub fn parse(timezone: &str, ranges: &[WorkingRangeConfig]) -> Result<Self, HoursError> {
        let timezone: Tz = timezone
            .parse()
            .map_err(|_| HoursError::TimeZone(timezone.to_string()))?;
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for range in ranges {
            let start = parse_clock(&range.start)?;
            let end = parse_clock(&range.end)?;
            if end <= start {
                return Err(HoursError::EmptyRange {
                    start: range.start.clone(),
                    end: range.end.clone(),
                });
            }
            if range.days.is_empty() {
                return Err(HoursError::NoDays);
            }
            for day in &range.days {
                days[parse_day(day)?].push((start, end));
            }
        }
        for ranges in &mut days {
            ranges.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
            for &(start, end) in ranges.iter() {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            *ranges = merged;
        }
        Ok(WorkingHours { timezone, days })
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// Whether no minute of the week is working time.
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    /// Whether `at` falls inside working time (ranges are closed at the start, open at the end).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let date = at.with_timezone(&self.timezone).date_naive();
        // A range of the previous local day can reach past this local midnight only when the
        // clocks moved, so both days are checked.
        [date.pred_opt(), Some(date)]
            .into_iter()
            .flatten()
            .flat_map(|day| self.windows_on(day))
            .any(|(start, end)| start <= at && at < end)
    }

    /// The moment `duration` of working time has passed after `start`. Nights, days off and the
    /// hours a clock change removes do not count; a zero duration gives the next working moment.
    /// Empty hours (no working time at all) count every minute, so a deadline always exists.
    pub fn due_at(&self, start: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
        if self.is_empty() {
            return start + duration;
        }
        let mut remaining = duration.max(Duration::zero());
        let mut day = start.with_timezone(&self.timezone).date_naive();
        if let Some(previous) = day.pred_opt() {
            day = previous;
        }
        loop {
            for (window_start, window_end) in self.windows_on(day) {
                if window_end <= start {
                    continue;
                }
                let from = window_start.max(start);
                let available = window_end - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                // Past the end of the calendar: nothing sensible is left to count.
                None => return DateTime::<Utc>::MAX_UTC,
            }
        }
    }

    /// The working windows of one local day as UTC instants, in order. A local time the clocks
    /// skip is moved to the first moment after the gap; a repeated local time starts at its
    /// first occurrence and ends at its second, so the repeated hour counts as worked.
    fn windows_on(
        &self,
        day: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let weekday = day.weekday().num_days_from_monday() as usize;
        self.days[weekday].iter().filter_map(move |&(start, end)| {
            let from = self.local_to_utc(day, start, true)?;
            let to = self.local_to_utc(day, end, false)?;
            (from < to).then_some((from, to))
        })
    }

    fn local_to_utc(&self, day: NaiveDate, minute: u32, earliest: bool) -> Option<DateTime<Utc>> {
        let midnight = day.and_time(NaiveTime::MIN);
        let mut local = midnight + Duration::minutes(i64::from(minute));
        // Gaps are at most a few hours long; step forward out of one.
        for _ in 0..=(4 * 60) {
            match self.timezone.from_local_datetime(&local) {
                LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
                LocalResult::Ambiguous(first, second) => {
                    let at = if earliest { first } else { second };
                    return Some(at.with_timezone(&Utc));
                }
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        None
    }
}

fn parse_day(day: &str) -> Result<usize, HoursError> {
    let index = match day.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => 0,
        "tue" | "tuesday" => 1,
        "wed" | "wednesday" => 2,
        "thu" | "thursday" => 3,
        "fri" | "friday" => 4,
        "sat" | "saturday" => 5,
        "sun" | "sunday" => 6,
        _ => return Err(HoursError::Day(day.to_string())),
    };
    Ok(index)
}

/// `HH:MM` to minutes since midnight; `24:00` is the end of the day.
fn parse_clock(text: &str) -> Result<u32, HoursError> {
    let bad = || HoursError::Time(text.to_string());
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u32 = hours.parse().map_err(|_| bad())?;
    let minutes: u32 = minutes.parse().map_err(|_| bad())?;
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

/// A working-time duration such as `1h`, `30m`, `1h30m` or `90m`.
pub fn parse_duration(text: &str) -> Result<Duration, HoursError> {
    let bad = || HoursError::Duration(text.to_string());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut total_minutes: i64 = 0;
    let mut digits = String::new();
    let mut seen_unit = false;
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' => {
                let value: i64 = digits.parse().map_err(|_| bad())?;
                digits.clear();
                let minutes = if c == 'h' {
                    value.checked_mul(60).ok_or_else(bad)?
                } else {
                    value
                };
                total_minutes = total_minutes.checked_add(minutes).ok_or_else(bad)?;
                seen_unit = true;
            }
            _ => return Err(bad()),
        }
    }
    // Ten years of minutes is far beyond any SLA and keeps the arithmetic far from overflow.
    if !digits.is_empty() || !seen_unit || total_minutes > 10 * 366 * 24 * 60 {
        return Err(bad());
    }
    Ok(Duration::minutes(total_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn range(days: &[&str], start: &str, end: &str) -> WorkingRangeConfig {
        WorkingRangeConfig {
            days: days.iter().map(|d| d.to_string()).collect(),
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn office_week_counts_only_weekday_daytime() {
        let hours = WorkingHours::office_week_utc();
        // Friday 17:00 + 2h: one hour on Friday, the second on Monday morning.
        let due = hours.due_at(utc("2026-03-06T17:00:00Z"), Duration::hours(2));
        assert_eq!(due, utc("2026-03-09T10:00:00Z"));
        // Saturday night: the clock starts on Monday at 09:00.
        let due = hours.due_at(utc("2026-03-07T23:00:00Z"), Duration::hours(1));
        assert_eq!(due, utc("2026-03-09T10:00:00Z"));
        // Tuesday 20:00 + 10h: 9 hours on Wednesday, 1 on Thursday.
        let due = hours.due_at(utc("2026-03-03T20:00:00Z"), Duration::hours(10));
        assert_eq!(due, utc("2026-03-05T10:00:00Z"));
        // Inside working time, a short duration is plain addition.
        let due = hours.due_at(utc("2026-03-04T10:15:00Z"), Duration::minutes(30));
        assert_eq!(due, utc("2026-03-04T10:45:00Z"));
    }

    #[test]
    fn zero_duration_is_the_next_working_moment() {
        let hours = WorkingHours::office_week_utc();
        assert_eq!(
            hours.due_at(utc("2026-03-07T12:00:00Z"), Duration::zero()),
            utc("2026-03-09T09:00:00Z")
        );
        assert_eq!(
            hours.due_at(utc("2026-03-04T12:00:00Z"), Duration::zero()),
            utc("2026-03-04T12:00:00Z")
        );
    }

    #[test]
    fn time_zone_shifts_the_working_day() {
        let hours =
            WorkingHours::parse("Asia/Tokyo", &[range(&["mon"], "09:00", "18:00")]).unwrap();
        // Monday 09:00 in Tokyo is Monday 00:00 UTC.
        assert!(hours.is_open(utc("2026-03-09T00:00:00Z")));
        assert!(!hours.is_open(utc("2026-03-08T23:59:00Z")));
        assert!(!hours.is_open(utc("2026-03-09T09:00:00Z")));
        assert_eq!(
            hours.due_at(utc("2026-03-08T12:00:00Z"), Duration::hours(1)),
            utc("2026-03-09T01:00:00Z")
        );
    }

    #[test]
    fn spring_forward_day_has_one_hour_less() {
        // Europe/Athens moves from 03:00 to 04:00 local on Sunday 2026-03-29.
        let hours = WorkingHours::parse(
            "Europe/Athens",
            &[range(&["sat", "sun", "mon"], "00:00", "24:00")],
        )
        .unwrap();
        // Saturday local midnight (22:00 UTC Friday, UTC+2) + 48h of working time: Saturday has
        // 24 hours, Sunday only 23, so it lands one hour into Monday local (UTC+3).
        let due = hours.due_at(utc("2026-03-27T22:00:00Z"), Duration::hours(48));
        assert_eq!(due, utc("2026-03-29T22:00:00Z"));
        // And local Monday 01:00 in summer time is 22:00 UTC on Sunday.
        assert!(hours.is_open(due));
    }

    #[test]
    fn fall_back_day_has_one_hour_more() {
        // Europe/Athens moves from 04:00 back to 03:00 local on Sunday 2026-10-25.
        let hours =
            WorkingHours::parse("Europe/Athens", &[range(&["sun"], "00:00", "24:00")]).unwrap();
        // Sunday local midnight is 21:00 UTC Saturday (UTC+3); the day lasts 25 hours.
        let start = utc("2026-10-24T21:00:00Z");
        assert_eq!(
            hours.due_at(start, Duration::hours(25)),
            utc("2026-10-25T22:00:00Z")
        );
        // A 26th hour must wait for the next Sunday (UTC+2 then).
        assert_eq!(
            hours.due_at(start, Duration::hours(26)),
            utc("2026-10-31T23:00:00Z")
        );
    }

    #[test]
    fn office_hours_across_dst_keep_local_nine_to_six() {
        // New York springs forward on Sunday 2026-03-08: Friday 09:00 EST is 14:00 UTC,
        // Monday 09:00 EDT is 13:00 UTC.
        let hours =
            WorkingHours::parse("America/New_York", &[WorkingRangeConfig::office_week()]).unwrap();
        let friday_17_local = utc("2026-03-06T22:00:00Z");
        assert_eq!(
            hours.due_at(friday_17_local, Duration::hours(2)),
            utc("2026-03-09T14:00:00Z")
        );
    }

    #[test]
    fn shifts_can_be_split_and_merged() {
        let hours = WorkingHours::parse(
            "UTC",
            &[
                range(&["wed"], "22:00", "24:00"),
                range(&["thu"], "00:00", "02:00"),
                range(&["wed"], "08:00", "12:00"),
                range(&["wed"], "11:00", "13:00"),
            ],
        )
        .unwrap();
        assert!(hours.is_open(utc("2026-03-04T12:30:00Z")));
        assert!(!hours.is_open(utc("2026-03-04T13:00:00Z")));
        // Wednesday 23:00 + 2h runs through midnight into Thursday's range.
        assert_eq!(
            hours.due_at(utc("2026-03-04T23:00:00Z"), Duration::hours(2)),
            utc("2026-03-05T01:00:00Z")
        );
    }

    #[test]
    fn bad_hours_are_named() {
        assert_eq!(
            WorkingHours::parse("Mars/Olympus", &[]).unwrap_err(),
            HoursError::TimeZone("Mars/Olympus".into())
        );
        assert_eq!(
            WorkingHours::parse("UTC", &[range(&["mon"], "9", "18:00")]).unwrap_err(),
            HoursError::Time("9".into())
        );
        assert_eq!(
            WorkingHours::parse("UTC", &[range(&["mon"], "09:00", "24:30")]).unwrap_err(),
            HoursError::Time("24:30".into())
        );
        assert_eq!(
            WorkingHours::parse("UTC", &[range(&["funday"], "09:00", "18:00")]).unwrap_err(),
            HoursError::Day("funday".into())
        );
        assert!(matches!(
            WorkingHours::parse("UTC", &[range(&["mon"], "22:00", "06:00")]).unwrap_err(),
            HoursError::EmptyRange { .. }
        ));
        assert_eq!(
            WorkingHours::parse("UTC", &[range(&[], "09:00", "18:00")]).unwrap_err(),
            HoursError::NoDays
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1h").unwrap(), Duration::hours(1));
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        for bad in ["", "1", "h", "1d", "1h30", "-1h", "99999999999999999h"] {
            assert_eq!(
                parse_duration(bad).unwrap_err(),
                HoursError::Duration(bad.into()),
                "{bad:?}"
            );
        }
    }

    fn zones() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "UTC",
            "Europe/Athens",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn due_at_is_monotonic_and_lands_in_working_time(
            zone in zones(),
            start_minute in 0i64..(3 * 366 * 24 * 60),
            shorter in 1i64..(80 * 60),
            extra in 0i64..(80 * 60),
            weekend in any::<bool>(),
        ) {
            let mut ranges = vec![WorkingRangeConfig::office_week()];
            if weekend {
                ranges.push(range(&["sat"], "01:30", "03:30"));
            }
            let hours = WorkingHours::parse(zone, &ranges).unwrap();
            let start = utc("2025-01-01T00:00:00Z") + Duration::minutes(start_minute);
            let short = hours.due_at(start, Duration::minutes(shorter));
            let long = hours.due_at(start, Duration::minutes(shorter + extra));
            prop_assert!(short <= long);
            prop_assert!(short > start);
            // The deadline is the end of a worked minute: the minute before it is working time.
            prop_assert!(hours.is_open(short - Duration::minutes(1)), "{short} in {zone}");
            prop_assert!(hours.is_open(long - Duration::minutes(1)), "{long} in {zone}");
        }
    }
}
