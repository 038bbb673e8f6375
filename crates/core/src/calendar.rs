//! Business time: opening hours per weekday in a time zone, holidays, and the arithmetic of
//! SLA clocks on top of them ("acknowledge within 1 business hour", "resolve within 3
//! business days", "pause while the ticket waits on the customer").
//!
//! Opening hours are local wall-clock times; every instant is a UTC [`Timestamp`]. Local times
//! are turned into instants with jiff's "compatible" rule, so an opening inside a DST gap
//! opens at the first existing instant after it (02:30 on a spring-forward night opens at
//! 03:30) and a time repeated by a fold means its first occurrence.
//!
//! Intervals are half-open: a calendar open 09:00–17:00 is open at 09:00 and closed at 17:00.

use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Minutes in a day; an opening span may end at 24:00, the next midnight.
const DAY_MINUTES: u16 = 24 * 60;

/// Why a calendar, an opening span or a business duration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{0:?} is not an opening span: write it as \"09:00-17:00\" (an end of \"24:00\" means midnight)")]
    BadSpan(String),
    #[error("opening span {0} ends before it starts: split a night shift into \"22:00-24:00\" and \"00:00-06:00\" on the next day")]
    BackwardsSpan(String),
    #[error("{day}: opening spans {first} and {second} overlap")]
    Overlap {
        day: &'static str,
        first: String,
        second: String,
    },
    #[error("unknown time zone {0:?}: use an IANA name such as \"Europe/Berlin\" or \"UTC\"")]
    UnknownTimeZone(String),
    #[error("the calendar is never open: give opening hours to at least one weekday")]
    NeverOpen,
}

/// Why a business duration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is not a business duration: write minutes as \"90m\", hours as \"1h\" or \"1h30m\", seconds as \"30s\", business days as \"3bd\", or \"eod\" for the end of the business day")]
    Syntax(String),
    #[error("{0:?}: a business duration must be longer than zero")]
    NotPositive(String),
    #[error("{0:?}: write business days as \"{1}bd\" (\"d\" alone would be ambiguous with calendar days)")]
    AmbiguousDays(String, String),
    #[error("{0:?} is too long for a business duration")]
    TooLong(String),
}

// ---------------------------------------------------------------------------------------------
// Business durations

/// An amount of business time, as written in policies.
///
/// - `Time` counts open seconds only (`"90m"`, `"1h"`, `"1h30m"`, and `"30s"` for tests and
///   drills that run on a 24/7 calendar).
/// - `Days(n)` (`"3bd"`) ends on the n-th open day after the one the clock starts on, at the
///   same local time of day; when that day opens later, at its opening; when it closes
///   earlier, at its close.
/// - `EndOfDay` (`"eod"`) ends at the last close of the business day the clock starts on
///   (the next business day when it starts after hours).
///
/// Zero and negative durations cannot be represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BusinessDuration {
    /// Open seconds.
    Time(NonZeroU32),
    Days(NonZeroU16),
    EndOfDay,
}

impl BusinessDuration {
    /// `n` business seconds; `None` for zero.
    pub fn seconds(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(BusinessDuration::Time)
    }

    /// `n` business minutes; `None` for zero or an overflow.
    pub fn minutes(n: u32) -> Option<Self> {
        n.checked_mul(60).and_then(Self::seconds)
    }

    /// `n` business hours; `None` for zero or an overflow.
    pub fn hours(n: u32) -> Option<Self> {
        n.checked_mul(3600).and_then(Self::seconds)
    }

    /// `n` business days; `None` for zero.
    pub fn days(n: u16) -> Option<Self> {
        NonZeroU16::new(n).map(BusinessDuration::Days)
    }
}

impl fmt::Display for BusinessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BusinessDuration::Time(secs) => {
                let secs = secs.get();
                let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
                if h > 0 {
                    write!(f, "{h}h")?;
                }
                if m > 0 {
                    write!(f, "{m}m")?;
                }
                if s > 0 {
                    write!(f, "{s}s")?;
                }
                Ok(())
            }
            BusinessDuration::Days(d) => write!(f, "{d}bd"),
            BusinessDuration::EndOfDay => f.write_str("eod"),
        }
    }
}

impl FromStr for BusinessDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim().to_ascii_lowercase();
        let syntax = || DurationError::Syntax(input.to_owned());
        if s == "eod" {
            return Ok(BusinessDuration::EndOfDay);
        }
        if s.starts_with('-') {
            return Err(DurationError::NotPositive(input.to_owned()));
        }
        if let Some(n) = s.strip_suffix("bd") {
            let n: u64 = digits(n).ok_or_else(syntax)?;
            let n = u16::try_from(n).map_err(|_| DurationError::TooLong(input.to_owned()))?;
            return BusinessDuration::days(n).ok_or(DurationError::NotPositive(input.to_owned()));
        }
        if let Some(n) = s.strip_suffix('d') {
            if digits(n).is_some() {
                return Err(DurationError::AmbiguousDays(input.to_owned(), n.to_owned()));
            }
            return Err(syntax());
        }
        // "1h30m", "1h", "90m", "45s", "1m30s": hours, minutes and seconds parts, each
        // optional, in that order.
        let mut rest = s.as_str();
        let mut total: u64 = 0;
        let mut parts = 0;
        for (unit, secs) in [('h', 3600u64), ('m', 60), ('s', 1)] {
            if let Some((n, after)) = rest.split_once(unit) {
                let n = digits(n).ok_or_else(syntax)?;
                total = n
                    .checked_mul(secs)
                    .and_then(|n| total.checked_add(n))
                    .ok_or_else(|| DurationError::TooLong(input.to_owned()))?;
                rest = after;
                parts += 1;
            }
        }
        if parts == 0 || !rest.is_empty() {
            return Err(syntax());
        }
        let total = u32::try_from(total).map_err(|_| DurationError::TooLong(input.to_owned()))?;
        BusinessDuration::seconds(total).ok_or(DurationError::NotPositive(input.to_owned()))
    }
}

/// A non-empty run of ASCII digits, as a number.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl TryFrom<String> for BusinessDuration {
    type Error = DurationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BusinessDuration> for String {
    fn from(d: BusinessDuration) -> String {
        d.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Opening hours

/// One opening span of a day, in local minutes since midnight: `start < end <= 24:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpenHours {
    start: u16,
    end: u16,
}

impl OpenHours {
    /// The span from `start` to `end` minutes after local midnight (`end` may be 1440).
    pub fn from_minutes(start: u16, end: u16) -> Result<Self, CalendarError> {
        if start >= DAY_MINUTES || end > DAY_MINUTES {
            return Err(CalendarError::BadSpan(format!(
                "{}-{}",
                hhmm(start),
                hhmm(end)
            )));
        }
        if end <= start {
            return Err(CalendarError::BackwardsSpan(format!(
                "{}-{}",
                hhmm(start),
                hhmm(end)
            )));
        }
        Ok(OpenHours { start, end })
    }

    /// Opening time, in minutes after local midnight.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Closing time, in minutes after local midnight (1440 = the next midnight).
    pub fn end_minute(self) -> u16 {
        self.end
    }

    fn minutes(self) -> u32 {
        u32::from(self.end - self.start)
    }
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl fmt::Display for OpenHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hhmm(self.start), hhmm(self.end))
    }
}

impl FromStr for OpenHours {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::BadSpan(s.to_owned());
        let clock = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            if h.is_empty() || h.len() > 2 || m.len() != 2 {
                return None;
            }
            let (h, m) = (digits(h)?, digits(m)?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then(|| (h * 60 + m) as u16)
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (clock(a).ok_or_else(bad)?, clock(b).ok_or_else(bad)?);
        if start == DAY_MINUTES {
            return Err(bad());
        }
        OpenHours::from_minutes(start, end)
    }
}

impl TryFrom<String> for OpenHours {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<OpenHours> for String {
    fn from(h: OpenHours) -> String {
        h.to_string()
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Opening spans for each weekday, sorted and never overlapping (adjacent spans are allowed).
/// Written as `{ mon = ["09:00-12:00", "13:00-17:00"], sat = ["10:00-14:00"] }`; a day left
/// out is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWeek", into = "RawWeek")]
pub struct WeekHours {
    days: [Vec<OpenHours>; 7],
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeek {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mon: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tue: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wed: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    thu: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fri: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sat: Vec<OpenHours>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sun: Vec<OpenHours>,
}

impl TryFrom<RawWeek> for WeekHours {
    type Error = CalendarError;
    fn try_from(w: RawWeek) -> Result<Self, Self::Error> {
        let days = [w.mon, w.tue, w.wed, w.thu, w.fri, w.sat, w.sun];
        let mut week = WeekHours::default();
        for (i, spans) in days.into_iter().enumerate() {
            week = week.with_day(weekday(i), spans)?;
        }
        Ok(week)
    }
}

impl From<WeekHours> for RawWeek {
    fn from(w: WeekHours) -> RawWeek {
        let [mon, tue, wed, thu, fri, sat, sun] = w.days;
        RawWeek {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        }
    }
}

fn weekday(monday_zero: usize) -> Weekday {
    Weekday::from_monday_zero_offset(monday_zero as i8).expect("weekday index is below 7")
}

fn day_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

impl WeekHours {
    /// The same spans on Monday to Friday, closed at the weekend.
    pub fn weekdays(spans: &[OpenHours]) -> Result<Self, CalendarError> {
        let mut week = WeekHours::default();
        for i in 0..5 {
            week = week.with_day(weekday(i), spans.to_vec())?;
        }
        Ok(week)
    }

    /// These hours with `day`'s spans replaced (sorted; overlapping spans are refused).
    pub fn with_day(
        mut self,
        day: Weekday,
        mut spans: Vec<OpenHours>,
    ) -> Result<Self, CalendarError> {
        spans.sort();
        for pair in spans.windows(2) {
            if pair[1].start < pair[0].end {
                return Err(CalendarError::Overlap {
                    day: DAY_NAMES[day_index(day)],
                    first: pair[0].to_string(),
                    second: pair[1].to_string(),
                });
            }
        }
        self.days[day_index(day)] = spans;
        Ok(self)
    }

    /// The opening spans of one weekday, in order.
    pub fn day(&self, day: Weekday) -> &[OpenHours] {
        &self.days[day_index(day)]
    }

    /// Open minutes in a week on the wall clock (a DST change inside opening hours makes the
    /// real week an hour shorter or longer).
    pub fn weekly_minutes(&self) -> u32 {
        self.days.iter().flatten().map(|s| s.minutes()).sum()
    }

    fn open_days_per_week(&self) -> u16 {
        self.days.iter().filter(|d| !d.is_empty()).count() as u16
    }
}

// ---------------------------------------------------------------------------------------------
// Calendars

/// Working hours in a time zone, with holidays: the clock SLA targets are counted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawCalendar")]
pub struct BusinessCalendar {
    /// How rules refer to this calendar ("default", "berlin-office").
    pub name: String,
    /// IANA time zone name, such as "America/New_York" or "UTC".
    pub time_zone: String,
    /// Opening spans per weekday, local time.
    #[schema(value_type = std::collections::BTreeMap<String, Vec<String>>, example = json!({"mon": ["09:00-17:00"]}))]
    pub hours: WeekHours,
    /// Local dates on which the calendar is closed all day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub holidays: Vec<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    name: String,
    time_zone: String,
    hours: WeekHours,
    #[serde(default)]
    holidays: Vec<Date>,
}

impl TryFrom<RawCalendar> for BusinessCalendar {
    type Error = CalendarError;
    fn try_from(r: RawCalendar) -> Result<Self, Self::Error> {
        BusinessCalendar::new(r.name, r.time_zone, r.hours, r.holidays)
    }
}

impl Default for BusinessCalendar {
    /// "default": Monday to Friday, 09:00–17:00 UTC.
    fn default() -> Self {
        let nine_to_five =
            OpenHours::from_minutes(9 * 60, 17 * 60).expect("09:00-17:00 is a valid span");
        BusinessCalendar {
            name: "default".to_owned(),
            time_zone: "UTC".to_owned(),
            hours: WeekHours::weekdays(&[nine_to_five]).expect("one span cannot overlap"),
            holidays: Vec::new(),
        }
    }
}

impl BusinessCalendar {
    /// A checked calendar: the time zone must exist and some weekday must have hours.
    pub fn new(
        name: impl Into<String>,
        time_zone: impl Into<String>,
        hours: WeekHours,
        holidays: Vec<Date>,
    ) -> Result<Self, CalendarError> {
        let cal = BusinessCalendar {
            name: name.into(),
            time_zone: time_zone.into(),
            hours,
            holidays,
        };
        cal.validate()?;
        Ok(cal)
    }

    /// Open around the clock, every day, in UTC: business time is wall-clock time.
    pub fn always_open() -> Self {
        let all_day = OpenHours::from_minutes(0, DAY_MINUTES).expect("00:00-24:00 is a valid span");
        let mut hours = WeekHours::default();
        for day in &mut hours.days {
            day.push(all_day);
        }
        BusinessCalendar {
            name: "always".to_owned(),
            time_zone: "UTC".to_owned(),
            hours,
            holidays: Vec::new(),
        }
    }

    /// Checks what the type cannot: a known time zone and at least one open weekday.
    pub fn validate(&self) -> Result<(), CalendarError> {
        TimeZone::get(&self.time_zone)
            .map_err(|_| CalendarError::UnknownTimeZone(self.time_zone.clone()))?;
        if self.hours.weekly_minutes() == 0 {
            return Err(CalendarError::NeverOpen);
        }
        Ok(())
    }

    fn clock(&self) -> Clock<'_> {
        // A calendar that failed validation is counted in UTC rather than stopping a timer.
        let tz = TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC);
        Clock { cal: self, tz }
    }

    /// Whether `t` falls inside opening hours (openings included, closings excluded).
    pub fn is_open(&self, t: Timestamp) -> bool {
        self.clock().is_open(t)
    }

    /// `t` when open, else the next opening (`Timestamp::MAX` if the calendar never opens).
    pub fn next_open(&self, t: Timestamp) -> Timestamp {
        self.clock().next_open(t)
    }

    /// When a reminder due at `t` should go out: at `t` if open, else at the next opening,
    /// so nobody is reminded at midnight on a Sunday.
    pub fn next_reminder_slot(&self, t: Timestamp) -> Timestamp {
        self.next_open(t)
    }

    /// The instant `d` of business time after `start`. A clock started outside hours starts
    /// at the next opening. The result is inside opening hours or exactly at a closing.
    pub fn add(&self, start: Timestamp, d: &BusinessDuration) -> Timestamp {
        let clock = self.clock();
        match *d {
            BusinessDuration::Time(secs) => {
                clock.add_time(start, SignedDuration::from_secs(i64::from(secs.get())))
            }
            BusinessDuration::Days(n) => clock.add_days(start, n.get()),
            BusinessDuration::EndOfDay => clock.end_of_day(start),
        }
    }

    /// The instant `budget` of open time after `start` (zero or negative: `start`).
    pub fn add_time(&self, start: Timestamp, budget: SignedDuration) -> Timestamp {
        self.clock().add_time(start, budget)
    }

    /// Open time between `a` and `b`, negative when `b` is before `a`.
    pub fn business_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        if b < a {
            return -self.clock().between(b, a);
        }
        self.clock().between(a, b)
    }

    /// Whole open minutes between `a` and `b` (truncated toward zero).
    pub fn business_minutes_between(&self, a: Timestamp, b: Timestamp) -> i64 {
        self.business_time_between(a, b).as_mins()
    }

    /// Like [`add`](Self::add), with the clock stopped during `pauses` (e.g. while the ticket
    /// waits on the customer). A pause without an end is still running: the due time is not
    /// known yet, so `None`. Day and end-of-day durations are first turned into the open time
    /// they would take from `start`, and that amount is then counted around the pauses.
    pub fn add_with_pauses(
        &self,
        start: Timestamp,
        d: &BusinessDuration,
        pauses: &[(Timestamp, Option<Timestamp>)],
    ) -> Option<Timestamp> {
        // No pause after the start (the usual case): the answer is `add`'s, and the three
        // walks of the calendar that count around pauses would only arrive at it again.
        if pauses
            .iter()
            .all(|(_, end)| end.is_some_and(|e| e <= start))
        {
            return Some(self.add(start, d));
        }
        self.add_counting_pauses(start, d, pauses)
    }

    fn add_counting_pauses(
        &self,
        start: Timestamp,
        d: &BusinessDuration,
        pauses: &[(Timestamp, Option<Timestamp>)],
    ) -> Option<Timestamp> {
        let unpaused = self.add(start, d);
        let clock = self.clock();
        let budget = clock.between(start, unpaused);
        let due = clock.add_with_pauses(start, budget, pauses)?;
        // Where no pause stopped the clock, keep `add`'s answer: "3bd" from Monday 09:00 is
        // Thursday 09:00, not the equivalent Wednesday 17:00.
        Some(if due == clock.add_time(start, budget) {
            unpaused
        } else {
            due
        })
    }

    /// Open time from `start` to `now`, leaving out the time inside `pauses` (a pause without
    /// an end runs until `now`).
    pub fn elapsed_excluding(
        &self,
        start: Timestamp,
        now: Timestamp,
        pauses: &[(Timestamp, Option<Timestamp>)],
    ) -> SignedDuration {
        if now <= start {
            return SignedDuration::ZERO;
        }
        let clock = self.clock();
        let mut elapsed = clock.between(start, now);
        for (p_start, p_end) in merge_pauses(pauses) {
            let (a, b) = (p_start.max(start), p_end.unwrap_or(now).min(now));
            if a < b {
                elapsed -= clock.between(a, b);
            }
        }
        elapsed
    }
}

/// Pauses sorted by start with overlaps merged; `None` is an end not reached yet.
fn merge_pauses(pauses: &[(Timestamp, Option<Timestamp>)]) -> Vec<(Timestamp, Option<Timestamp>)> {
    let mut sorted: Vec<_> = pauses
        .iter()
        .copied()
        .filter(|(a, b)| b.is_none_or(|b| b > *a))
        .collect();
    sorted.sort_by_key(|p| p.0);
    let mut merged: Vec<(Timestamp, Option<Timestamp>)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match merged.last_mut() {
            Some((_, last_end)) if last_end.is_none_or(|e| a <= e) => {
                *last_end = match (*last_end, b) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
            }
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// A calendar with its time zone resolved, for one computation.
struct Clock<'a> {
    cal: &'a BusinessCalendar,
    tz: TimeZone,
}

impl Clock<'_> {
    fn date_of(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    fn is_holiday(&self, d: Date) -> bool {
        self.cal.holidays.contains(&d)
    }

    fn is_open_day(&self, d: Date) -> bool {
        !self.cal.hours.day(d.weekday()).is_empty() && !self.is_holiday(d)
    }

    fn week(&self) -> SignedDuration {
        SignedDuration::from_mins(i64::from(self.cal.hours.weekly_minutes()))
    }

    /// The instant of a local time; minute 1440 is the next midnight.
    fn instant(&self, d: Date, minute: u16) -> Option<Timestamp> {
        let dt = if minute >= DAY_MINUTES {
            d.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            d.to_datetime(Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?)
        };
        self.instant_at(dt)
    }

    fn instant_at(&self, dt: DateTime) -> Option<Timestamp> {
        self.tz.to_ambiguous_timestamp(dt).compatible().ok()
    }

    /// The open intervals of one local date, as instants, in order.
    fn intervals(&self, d: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let spans: &[OpenHours] = if self.is_holiday(d) {
            &[]
        } else {
            self.cal.hours.day(d.weekday())
        };
        spans.iter().filter_map(move |s| {
            let (a, b) = (self.instant(d, s.start)?, self.instant(d, s.end)?);
            (a < b).then_some((a, b))
        })
    }

    /// How many whole weeks from local date `d` on can be counted at their nominal length:
    /// weeks before the next holiday and the next time-zone transition.
    fn clean_weeks(&self, d: Date, wanted: i64) -> i64 {
        let mut weeks = wanted;
        if let Some(h) = self.cal.holidays.iter().filter(|h| **h >= d).min() {
            weeks = weeks.min(days_between(d, *h) / 7);
        }
        if weeks > 0 {
            let Some(midnight) = self.instant_at(d.to_datetime(Time::midnight())) else {
                return 0;
            };
            let before = midnight
                .checked_sub(SignedDuration::from_secs(1))
                .unwrap_or(midnight);
            if let Some(tr) = self.tz.following(before).next() {
                // The week holding the transition's local date is walked day by day.
                weeks = weeks.min((days_between(d, self.date_of(tr.timestamp())) - 1).max(0) / 7);
            }
        }
        weeks.max(0)
    }

    fn is_open(&self, t: Timestamp) -> bool {
        self.intervals(self.date_of(t))
            .any(|(a, b)| a <= t && t < b)
    }

    fn next_open(&self, t: Timestamp) -> Timestamp {
        if self.week().is_zero() {
            return Timestamp::MAX;
        }
        let mut d = self.date_of(t);
        // Any seven non-holiday days include an open one.
        for _ in 0..self.cal.holidays.len() + 9 {
            if let Some((a, _)) = self.intervals(d).find(|(_, b)| *b > t) {
                return a.max(t);
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
        }
        Timestamp::MAX
    }

    fn add_time(&self, start: Timestamp, budget: SignedDuration) -> Timestamp {
        if budget <= SignedDuration::ZERO {
            return start;
        }
        let week = self.week();
        if week.is_zero() {
            return Timestamp::MAX;
        }
        let mut remaining = budget;
        let mut d = self.date_of(start);
        let mut first_day = true;
        loop {
            // Skip whole weeks, keeping some time left so the answer lies after them.
            if !first_day && remaining > week {
                let wanted = ((remaining.as_nanos() - 1) / week.as_nanos()) as i64;
                let k = self.clean_weeks(d, wanted);
                if k > 0 {
                    let Some(next) = add_days(d, 7 * k) else {
                        return Timestamp::MAX;
                    };
                    d = next;
                    remaining -= week * k as i32;
                }
            }
            for (a, b) in self.intervals(d) {
                if b <= start {
                    continue;
                }
                let s = a.max(start);
                let avail = b.duration_since(s);
                if remaining <= avail {
                    return s.checked_add(remaining).unwrap_or(Timestamp::MAX);
                }
                remaining -= avail;
            }
            let Ok(next) = d.tomorrow() else {
                return Timestamp::MAX;
            };
            d = next;
            first_day = false;
        }
    }

    fn add_with_pauses(
        &self,
        start: Timestamp,
        budget: SignedDuration,
        pauses: &[(Timestamp, Option<Timestamp>)],
    ) -> Option<Timestamp> {
        let mut from = start;
        let mut remaining = budget;
        for (p_start, p_end) in merge_pauses(pauses) {
            if p_end.is_some_and(|e| e <= from) {
                continue;
            }
            if p_start > from {
                let due = self.add_time(from, remaining);
                if due <= p_start {
                    return Some(due);
                }
                remaining -= self.between(from, p_start);
            }
            from = from.max(p_end?);
        }
        Some(self.add_time(from, remaining))
    }

    fn between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        let week = self.week();
        let mut total = SignedDuration::ZERO;
        if a >= b || week.is_zero() {
            return total;
        }
        let last = self.date_of(b);
        let mut d = self.date_of(a);
        let mut first_day = true;
        while d <= last {
            if !first_day {
                let k = self.clean_weeks(d, days_between(d, last) / 7);
                if k > 0 {
                    let Some(next) = add_days(d, 7 * k) else {
                        break;
                    };
                    d = next;
                    total += week * k as i32;
                }
            }
            for (x, y) in self.intervals(d) {
                let (s, e) = (x.max(a), y.min(b));
                if s < e {
                    total += e.duration_since(s);
                }
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
            first_day = false;
        }
        total
    }

    fn add_days(&self, start: Timestamp, n: u16) -> Timestamp {
        let s = self.next_open(start);
        if s == Timestamp::MAX {
            return s;
        }
        let local = self.tz.to_datetime(s);
        let mut d = local.date();
        let mut left = i64::from(n);
        let per_week = i64::from(self.cal.hours.open_days_per_week());
        while left > 0 {
            // Seven days without a holiday hold exactly `per_week` open days.
            if left > per_week {
                let next = d.tomorrow().ok();
                let k = next.map_or(0, |next| {
                    let by_holidays = self
                        .cal
                        .holidays
                        .iter()
                        .filter(|h| **h >= next)
                        .min()
                        .map_or(i64::MAX, |h| days_between(next, *h) / 7);
                    ((left - 1) / per_week).min(by_holidays)
                });
                if k > 0 {
                    let Some(next) = add_days(d, 7 * k) else {
                        return Timestamp::MAX;
                    };
                    d = next;
                    left -= k * per_week;
                    continue;
                }
            }
            let Ok(next) = d.tomorrow() else {
                return Timestamp::MAX;
            };
            d = next;
            if self.is_open_day(d) {
                left -= 1;
            }
        }
        let Some(target) = self.instant_at(d.to_datetime(local.time())) else {
            return Timestamp::MAX;
        };
        let mut close = None;
        for (a, b) in self.intervals(d) {
            if target < b {
                return a.max(target);
            }
            close = Some(b);
        }
        close.unwrap_or(target)
    }

    fn end_of_day(&self, start: Timestamp) -> Timestamp {
        let s = self.next_open(start);
        if s == Timestamp::MAX {
            return s;
        }
        self.intervals(self.date_of(s))
            .map(|(_, b)| b)
            .last()
            .unwrap_or(s)
    }
}

fn days_between(a: Date, b: Date) -> i64 {
    a.until(b).map_or(i64::MAX, |s| i64::from(s.get_days()))
}

fn add_days(d: Date, days: i64) -> Option<Date> {
    d.checked_add(jiff::Span::new().try_days(days).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Zoned;
    use proptest::prelude::*;

    /// An instant written as local time in a zone: `at("2025-03-07T16:00", "America/New_York")`.
    fn at(local: &str, zone: &str) -> Timestamp {
        format!("{local}[{zone}]")
            .parse::<Zoned>()
            .expect("test instant parses")
            .timestamp()
    }

    fn local(t: Timestamp, zone: &str) -> String {
        let tz = TimeZone::get(zone).expect("test zone exists");
        tz.to_datetime(t).strftime("%a %Y-%m-%dT%H:%M").to_string()
    }

    fn spans(list: &[&str]) -> Vec<OpenHours> {
        list.iter()
            .map(|s| s.parse().expect("test span parses"))
            .collect()
    }

    fn office(zone: &str) -> BusinessCalendar {
        BusinessCalendar::new(
            "office",
            zone,
            WeekHours::weekdays(&spans(&["09:00-17:00"])).unwrap(),
            vec![],
        )
        .unwrap()
    }

    /// Open all day every day, on local time in `zone`: DST days are 23 or 25 hours long.
    fn round_the_clock(zone: &str) -> BusinessCalendar {
        BusinessCalendar {
            time_zone: zone.to_owned(),
            ..BusinessCalendar::always_open()
        }
    }

    fn d(s: &str) -> BusinessDuration {
        s.parse().expect("test duration parses")
    }

    #[test]
    fn durations_read_and_write_as_people_write_them() {
        for (text, shown) in [
            ("90m", "1h30m"),
            ("1h", "1h"),
            ("1h30m", "1h30m"),
            ("45m", "45m"),
            ("120m", "2h"),
            ("3bd", "3bd"),
            ("eod", "eod"),
            (" EOD ", "eod"),
            ("2H", "2h"),
            ("30s", "30s"),
            ("90s", "1m30s"),
            ("1h0m5s", "1h5s"),
        ] {
            assert_eq!(d(text).to_string(), shown, "{text}");
            assert_eq!(d(shown), d(text));
        }
        assert_eq!(d("90m"), BusinessDuration::minutes(90).unwrap());
        assert_eq!(d("3bd"), BusinessDuration::days(3).unwrap());
        assert_eq!(d("1m30s"), BusinessDuration::seconds(90).unwrap());
    }

    #[test]
    fn zero_negative_and_garbled_durations_are_refused_with_a_hint() {
        for bad in ["0m", "0h", "0bd", "0h0m", "-5m", "-1bd"] {
            let err = bad.parse::<BusinessDuration>().unwrap_err();
            assert!(matches!(err, DurationError::NotPositive(_)), "{bad}: {err}");
            assert!(err.to_string().contains("longer than zero"), "{err}");
        }
        for bad in [
            "", "90", "m", "1h30", "1.5h", "h", "1m30h", "1h 30m", "3 days", "bd",
        ] {
            let err = bad.parse::<BusinessDuration>().unwrap_err();
            assert!(matches!(err, DurationError::Syntax(_)), "{bad}: {err}");
            assert!(err.to_string().contains("\"3bd\""), "{err}");
        }
        let err = "3d".parse::<BusinessDuration>().unwrap_err();
        assert_eq!(err.to_string(), "\"3d\": write business days as \"3bd\" (\"d\" alone would be ambiguous with calendar days)");
        assert!(matches!(
            "99999999999m".parse::<BusinessDuration>(),
            Err(DurationError::TooLong(_))
        ));
        assert!(serde_json::from_str::<BusinessDuration>("\"0m\"").is_err());
        assert_eq!(serde_json::to_string(&d("1h30m")).unwrap(), "\"1h30m\"");
    }

    #[test]
    fn opening_spans_are_checked() {
        assert_eq!(
            "09:00-17:00".parse::<OpenHours>().unwrap().to_string(),
            "09:00-17:00"
        );
        assert_eq!(
            "9:00-24:00".parse::<OpenHours>().unwrap().end_minute(),
            1440
        );
        for bad in [
            "9-17",
            "09:00",
            "25:00-26:00",
            "09:60-10:00",
            "24:00-24:00",
            "09:00-24:30",
        ] {
            assert!(
                matches!(bad.parse::<OpenHours>(), Err(CalendarError::BadSpan(_))),
                "{bad}"
            );
        }
        let err = "22:00-06:00".parse::<OpenHours>().unwrap_err();
        assert!(err.to_string().contains("split a night shift"), "{err}");
        let err = WeekHours::default()
            .with_day(Weekday::Tuesday, spans(&["09:00-12:00", "11:00-17:00"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "tue: opening spans 09:00-12:00 and 11:00-17:00 overlap"
        );
        let ok = WeekHours::default()
            .with_day(Weekday::Tuesday, spans(&["13:00-17:00", "09:00-13:00"]))
            .unwrap();
        assert_eq!(
            ok.day(Weekday::Tuesday),
            spans(&["09:00-13:00", "13:00-17:00"]).as_slice()
        );
    }

    #[test]
    fn calendars_read_from_toml_and_refuse_what_cannot_work() {
        let cal: BusinessCalendar = toml_edit::de::from_str(
            r#"
            name = "berlin"
            time_zone = "Europe/Berlin"
            hours = { mon = ["09:00-12:00", "13:00-17:00"], fri = ["09:00-13:00"] }
            holidays = ["2025-12-25"]
            "#,
        )
        .unwrap();
        assert_eq!(cal.hours.day(Weekday::Monday).len(), 2);
        assert!(cal.hours.day(Weekday::Tuesday).is_empty());
        assert_eq!(cal.holidays, vec![jiff::civil::date(2025, 12, 25)]);
        let back: BusinessCalendar =
            toml_edit::de::from_str(&toml_edit::ser::to_string(&cal).unwrap()).unwrap();
        assert_eq!(back, cal);

        let bad_zone = toml_edit::de::from_str::<BusinessCalendar>(
            "name = \"x\"\ntime_zone = \"Europe/Berln\"\nhours = { mon = [\"09:00-17:00\"] }\n",
        );
        assert!(bad_zone
            .unwrap_err()
            .to_string()
            .contains("unknown time zone \"Europe/Berln\""));
        let never = toml_edit::de::from_str::<BusinessCalendar>(
            "name = \"x\"\ntime_zone = \"UTC\"\nhours = {}\n",
        );
        assert!(never.unwrap_err().to_string().contains("never open"));
        let typo = toml_edit::de::from_str::<BusinessCalendar>(
            "name = \"x\"\ntime_zone = \"UTC\"\nhours = { monday = [\"09:00-17:00\"] }\n",
        );
        assert!(typo.unwrap_err().to_string().contains("monday"));
        assert_eq!(BusinessCalendar::default().validate(), Ok(()));
        assert_eq!(BusinessCalendar::always_open().validate(), Ok(()));
    }

    /// (calendar, start as local time, duration, expected end as local time)
    type Case = (BusinessCalendar, &'static str, &'static str, &'static str);

    fn check_cases(zone: &str, cases: Vec<Case>) {
        for (cal, start, dur, want) in cases {
            let start_t = at(start, zone);
            let got = cal.add(start_t, &d(dur));
            assert_eq!(local(got, zone), want, "{} + {dur} from {start}", cal.name);
            assert_eq!(got, at(&want[4..], zone), "{start} + {dur}");
        }
    }

    #[test]
    fn minutes_skip_nights_weekends_and_holidays() {
        let utc = BusinessCalendar::default();
        let christmas = BusinessCalendar {
            holidays: vec![
                jiff::civil::date(2025, 12, 25),
                jiff::civil::date(2025, 12, 26),
            ],
            ..BusinessCalendar::default()
        };
        check_cases(
            "UTC",
            vec![
                (
                    utc.clone(),
                    "2025-06-02T10:00",
                    "90m",
                    "Mon 2025-06-02T11:30",
                ),
                (
                    utc.clone(),
                    "2025-06-02T16:00",
                    "1h",
                    "Mon 2025-06-02T17:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T16:30",
                    "1h",
                    "Tue 2025-06-03T09:30",
                ),
                (
                    utc.clone(),
                    "2025-06-06T16:30",
                    "1h",
                    "Mon 2025-06-09T09:30",
                ),
                // Overnight and weekend starts: the clock starts at the next opening.
                (
                    utc.clone(),
                    "2025-06-03T22:00",
                    "1h30m",
                    "Wed 2025-06-04T10:30",
                ),
                (
                    utc.clone(),
                    "2025-06-04T03:00",
                    "8h",
                    "Wed 2025-06-04T17:00",
                ),
                (
                    utc.clone(),
                    "2025-06-07T03:00",
                    "1h",
                    "Mon 2025-06-09T10:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T09:00",
                    "40h",
                    "Fri 2025-06-06T17:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T09:00",
                    "40h1m",
                    "Mon 2025-06-09T09:01",
                ),
                (
                    christmas.clone(),
                    "2025-12-24T16:00",
                    "2h",
                    "Mon 2025-12-29T10:00",
                ),
                (christmas, "2025-12-25T11:00", "1h", "Mon 2025-12-29T10:00"),
            ],
        );
    }

    #[test]
    fn business_days_keep_the_time_of_day() {
        let utc = BusinessCalendar::default();
        let christmas = BusinessCalendar {
            holidays: vec![jiff::civil::date(2025, 12, 25)],
            ..BusinessCalendar::default()
        };
        let short_friday = BusinessCalendar {
            hours: WeekHours::weekdays(&spans(&["09:00-17:00"]))
                .unwrap()
                .with_day(Weekday::Friday, spans(&["09:00-13:00"]))
                .unwrap()
                .with_day(Weekday::Tuesday, spans(&["12:00-17:00"]))
                .unwrap(),
            ..BusinessCalendar::default()
        };
        check_cases(
            "UTC",
            vec![
                (
                    utc.clone(),
                    "2025-06-02T10:15",
                    "3bd",
                    "Thu 2025-06-05T10:15",
                ),
                (
                    utc.clone(),
                    "2025-06-06T15:00",
                    "1bd",
                    "Mon 2025-06-09T15:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T18:00",
                    "1bd",
                    "Wed 2025-06-04T09:00",
                ),
                (
                    utc.clone(),
                    "2025-06-07T12:00",
                    "1bd",
                    "Tue 2025-06-10T09:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T10:00",
                    "10bd",
                    "Mon 2025-06-16T10:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T10:00",
                    "11bd",
                    "Tue 2025-06-17T10:00",
                ),
                (christmas, "2025-12-24T10:00", "1bd", "Fri 2025-12-26T10:00"),
                // The target day closes before that time: its close; opens later: its opening.
                (
                    short_friday.clone(),
                    "2025-06-05T15:00",
                    "1bd",
                    "Fri 2025-06-06T13:00",
                ),
                (
                    short_friday.clone(),
                    "2025-06-05T11:00",
                    "1bd",
                    "Fri 2025-06-06T11:00",
                ),
                (
                    short_friday,
                    "2025-06-02T10:00",
                    "1bd",
                    "Tue 2025-06-03T12:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T10:00",
                    "eod",
                    "Mon 2025-06-02T17:00",
                ),
                (
                    utc.clone(),
                    "2025-06-02T17:00",
                    "eod",
                    "Tue 2025-06-03T17:00",
                ),
                (utc, "2025-06-07T10:00", "eod", "Mon 2025-06-09T17:00"),
            ],
        );
        let lunch = BusinessCalendar {
            hours: WeekHours::weekdays(&spans(&["09:00-12:00", "13:00-17:00"])).unwrap(),
            ..BusinessCalendar::default()
        };
        check_cases(
            "UTC",
            vec![
                (
                    lunch.clone(),
                    "2025-06-02T11:00",
                    "2h",
                    "Mon 2025-06-02T14:00",
                ),
                (
                    lunch.clone(),
                    "2025-06-02T12:30",
                    "1bd",
                    "Tue 2025-06-03T13:00",
                ),
                (lunch, "2025-06-02T10:00", "eod", "Mon 2025-06-02T17:00"),
            ],
        );
    }

    #[test]
    fn dst_changes_in_new_york() {
        let ny = office("America/New_York");
        let clock = round_the_clock("America/New_York");
        check_cases(
            "America/New_York",
            vec![
                // Spring forward on Sunday 9 March 2025, outside office hours: no effect.
                (ny.clone(), "2025-03-07T16:00", "2h", "Mon 2025-03-10T10:00"),
                (
                    ny.clone(),
                    "2025-03-07T10:00",
                    "1bd",
                    "Mon 2025-03-10T10:00",
                ),
                (ny.clone(), "2025-10-31T16:30", "1h", "Mon 2025-11-03T09:30"),
                // Around the clock, the spring-forward day has 23 hours, the fall-back day 25.
                (
                    clock.clone(),
                    "2025-03-08T12:00",
                    "24h",
                    "Sun 2025-03-09T13:00",
                ),
                (
                    clock.clone(),
                    "2025-11-01T12:00",
                    "24h",
                    "Sun 2025-11-02T11:00",
                ),
                (
                    clock.clone(),
                    "2025-03-08T12:00",
                    "1bd",
                    "Sun 2025-03-09T12:00",
                ),
                (clock, "2025-03-09T00:00", "eod", "Mon 2025-03-10T00:00"),
            ],
        );
        assert_eq!(
            ny.business_minutes_between(
                at("2025-03-07T16:00", "America/New_York"),
                at("2025-03-10T10:00", "America/New_York")
            ),
            120
        );
        let clock = round_the_clock("America/New_York");
        let sunday = |h| at(&format!("2025-11-02T{h}"), "America/New_York");
        assert_eq!(
            clock.business_minutes_between(
                sunday("00:00"),
                at("2025-11-03T00:00", "America/New_York")
            ),
            25 * 60
        );
        assert_eq!(
            clock.business_minutes_between(
                at("2025-03-09T00:00", "America/New_York"),
                at("2025-03-10T00:00", "America/New_York")
            ),
            23 * 60
        );

        // Opening hours that straddle the fold: 01:00 EDT to 03:00 EST is three real hours.
        let night = BusinessCalendar {
            hours: WeekHours::default()
                .with_day(Weekday::Sunday, spans(&["01:00-03:00"]))
                .unwrap(),
            ..office("America/New_York")
        };
        assert_eq!(
            night.business_minutes_between(sunday("00:00"), sunday("12:00")),
            180
        );
        assert_eq!(
            night.next_open(sunday("00:00")).to_string(),
            "2025-11-02T05:00:00Z"
        );
    }

    #[test]
    fn dst_changes_in_berlin_and_an_opening_inside_the_gap() {
        let clock = round_the_clock("Europe/Berlin");
        check_cases(
            "Europe/Berlin",
            vec![
                (
                    clock.clone(),
                    "2025-03-29T12:00",
                    "24h",
                    "Sun 2025-03-30T13:00",
                ),
                (
                    clock.clone(),
                    "2025-10-25T12:00",
                    "24h",
                    "Sun 2025-10-26T11:00",
                ),
                (
                    office("Europe/Berlin"),
                    "2025-03-28T16:00",
                    "2h",
                    "Mon 2025-03-31T10:00",
                ),
            ],
        );
        // Sunday hours opening at 02:30, which does not exist on 30 March 2025: the calendar
        // opens at the first instant after the gap, 03:30 CEST, and the day has 90 minutes.
        let early = BusinessCalendar {
            hours: WeekHours::default()
                .with_day(Weekday::Sunday, spans(&["02:30-05:00"]))
                .unwrap(),
            ..office("Europe/Berlin")
        };
        let sunday = |h| at(&format!("2025-03-30T{h}"), "Europe/Berlin");
        let opening = early.next_open(sunday("00:00"));
        assert_eq!(local(opening, "Europe/Berlin"), "Sun 2025-03-30T03:30");
        assert!(!early.is_open(sunday("01:59")));
        assert!(early.is_open(sunday("03:30")));
        assert_eq!(
            early.business_minutes_between(sunday("00:00"), sunday("23:00")),
            90
        );
        assert_eq!(
            local(early.add(sunday("00:00"), &d("eod")), "Europe/Berlin"),
            "Sun 2025-03-30T05:00"
        );
    }

    #[test]
    fn dst_changes_in_sydney() {
        // Southern hemisphere: DST ends on 6 April 2025 and starts on 5 October 2025.
        let clock = round_the_clock("Australia/Sydney");
        check_cases(
            "Australia/Sydney",
            vec![
                (
                    clock.clone(),
                    "2025-04-05T12:00",
                    "24h",
                    "Sun 2025-04-06T11:00",
                ),
                (
                    clock.clone(),
                    "2025-10-04T12:00",
                    "24h",
                    "Sun 2025-10-05T13:00",
                ),
                (
                    office("Australia/Sydney"),
                    "2025-10-03T16:00",
                    "3h",
                    "Mon 2025-10-06T11:00",
                ),
                (
                    office("Australia/Sydney"),
                    "2025-04-04T16:00",
                    "1bd",
                    "Mon 2025-04-07T16:00",
                ),
            ],
        );
        let sydney = office("Australia/Sydney");
        // 09:00 in Sydney is 23:00 UTC the day before in winter, 22:00 in summer.
        assert_eq!(
            sydney.next_open(at("2025-06-07T12:00", "UTC")).to_string(),
            "2025-06-08T23:00:00Z"
        );
        assert_eq!(
            sydney.next_open(at("2025-12-06T12:00", "UTC")).to_string(),
            "2025-12-07T22:00:00Z"
        );
    }

    #[test]
    fn far_deadlines_skip_whole_weeks_and_count_dst_and_holidays() {
        let mut berlin = office("Europe/Berlin");
        berlin.holidays = vec![
            jiff::civil::date(2025, 12, 25),
            jiff::civil::date(2026, 1, 1),
        ];
        let start = at("2025-01-06T09:00", "Europe/Berlin");
        // Five years of office hours, checked both ways.
        let minutes = 5 * 52 * 40 * 60;
        let started = std::time::Instant::now();
        let end = berlin.add(start, &BusinessDuration::minutes(minutes).unwrap());
        assert_eq!(
            berlin.business_minutes_between(start, end),
            i64::from(minutes)
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        // From Monday 6 January 2025: 257 open days to the year's end, then Friday 2 January.
        let year_end = berlin.add(start, &BusinessDuration::minutes(258 * 8 * 60).unwrap());
        assert_eq!(local(year_end, "Europe/Berlin"), "Fri 2026-01-02T17:00");
        assert_eq!(
            local(berlin.add(start, &d("300bd")), "Europe/Berlin"),
            "Wed 2026-03-04T09:00"
        );
        let clock = round_the_clock("Europe/Berlin");
        // A whole year around the clock is 365 × 24 hours: the lost and the gained hour cancel.
        let jan = at("2025-01-01T00:00", "Europe/Berlin");
        assert_eq!(
            clock.business_minutes_between(jan, at("2026-01-01T00:00", "Europe/Berlin")),
            365 * 24 * 60
        );
        assert_eq!(
            clock.add(jan, &BusinessDuration::hours(365 * 24).unwrap()),
            at("2026-01-01T00:00", "Europe/Berlin")
        );
    }

    #[test]
    fn reminders_wait_for_opening_hours() {
        let utc = BusinessCalendar::default();
        let sunday_midnight = at("2025-06-08T00:00", "UTC");
        assert_eq!(
            local(utc.next_reminder_slot(sunday_midnight), "UTC"),
            "Mon 2025-06-09T09:00"
        );
        let tuesday = at("2025-06-10T11:11", "UTC");
        assert_eq!(utc.next_reminder_slot(tuesday), tuesday);
        assert!(utc.is_open(at("2025-06-10T09:00", "UTC")));
        assert!(!utc.is_open(at("2025-06-10T17:00", "UTC")));
        let never = BusinessCalendar {
            hours: WeekHours::default(),
            ..BusinessCalendar::default()
        };
        assert_eq!(never.validate(), Err(CalendarError::NeverOpen));
        assert_eq!(never.next_open(tuesday), Timestamp::MAX);
        assert_eq!(never.add(tuesday, &d("1h")), Timestamp::MAX);
    }

    #[test]
    fn pauses_stop_the_clock_while_waiting_on_the_customer() {
        let utc = BusinessCalendar::default();
        let t = |s| at(s, "UTC");
        let start = t("2025-06-02T09:00");
        let eight = d("8h");
        // Pending from 10:00 to 12:00 on Monday: the 8 hours end two hours later.
        let pause = [(t("2025-06-02T10:00"), Some(t("2025-06-02T12:00")))];
        assert_eq!(
            utc.add_with_pauses(start, &eight, &pause),
            Some(t("2025-06-03T11:00"))
        );
        assert_eq!(
            utc.elapsed_excluding(start, t("2025-06-02T17:00"), &pause),
            SignedDuration::from_hours(6)
        );
        // A pause overnight costs nothing: the clock was stopped anyway.
        let night = [(t("2025-06-02T18:00"), Some(t("2025-06-03T08:00")))];
        assert_eq!(
            utc.add_with_pauses(start, &d("9h"), &night),
            Some(t("2025-06-03T10:00"))
        );
        // Still pending: no due time yet.
        let open = [(t("2025-06-02T10:00"), None)];
        assert_eq!(utc.add_with_pauses(start, &eight, &open), None);
        assert_eq!(
            utc.elapsed_excluding(start, t("2025-06-05T10:00"), &open),
            SignedDuration::from_hours(1)
        );
        // A pending spell that ends after the deadline would have passed does not matter.
        let late = [(t("2025-06-04T10:00"), None)];
        assert_eq!(
            utc.add_with_pauses(start, &eight, &late),
            Some(t("2025-06-02T17:00"))
        );
        // Overlapping and unsorted pauses count once.
        let messy = [
            (t("2025-06-02T11:00"), Some(t("2025-06-02T12:00"))),
            (t("2025-06-02T10:00"), Some(t("2025-06-02T11:30"))),
            (t("2025-06-02T14:00"), Some(t("2025-06-02T14:00"))),
        ];
        assert_eq!(
            utc.add_with_pauses(start, &eight, &messy),
            Some(t("2025-06-03T11:00"))
        );
        assert_eq!(
            utc.elapsed_excluding(start, t("2025-06-02T17:00"), &messy),
            SignedDuration::from_hours(6)
        );
        // A ticket already pending when the clock starts.
        let before = [(t("2025-06-01T10:00"), Some(t("2025-06-02T13:00")))];
        assert_eq!(
            utc.add_with_pauses(start, &d("1h"), &before),
            Some(t("2025-06-02T14:00"))
        );
        // Day durations become the open time they would take, then go around the pause.
        let eod = utc.add_with_pauses(start, &d("eod"), &pause);
        assert_eq!(eod, Some(t("2025-06-03T11:00")));
        assert_eq!(
            utc.add_with_pauses(start, &d("3bd"), &[]),
            Some(utc.add(start, &d("3bd")))
        );
    }

    // ---- properties -------------------------------------------------------------------------

    fn calendars() -> Vec<BusinessCalendar> {
        let mut lunch_berlin = office("Europe/Berlin");
        lunch_berlin.hours = WeekHours::weekdays(&spans(&["08:00-12:00", "13:00-18:30"]))
            .unwrap()
            .with_day(Weekday::Saturday, spans(&["10:00-14:00"]))
            .unwrap();
        lunch_berlin.holidays = vec![
            jiff::civil::date(2025, 12, 25),
            jiff::civil::date(2025, 12, 26),
            jiff::civil::date(2026, 4, 3),
        ];
        let mut night_ny = office("America/New_York");
        // Overnight cover split at midnight, and Sunday hours that cross both DST changes.
        night_ny.hours = WeekHours::default()
            .with_day(Weekday::Monday, spans(&["22:00-24:00"]))
            .unwrap()
            .with_day(Weekday::Tuesday, spans(&["00:00-06:00", "09:00-17:00"]))
            .unwrap()
            .with_day(Weekday::Sunday, spans(&["00:30-03:30"]))
            .unwrap();
        vec![
            BusinessCalendar::default(),
            office("America/New_York"),
            office("Australia/Sydney"),
            lunch_berlin,
            night_ny,
            round_the_clock("Europe/Berlin"),
            round_the_clock("Australia/Sydney"),
        ]
    }

    prop_compose! {
        /// Any minute from 2024 to the end of 2026.
        fn instant()(m in 0i64..(3 * 366 * 24 * 60)) -> Timestamp {
            at("2024-01-01T00:00", "UTC") + SignedDuration::from_mins(m)
        }
    }

    fn duration() -> impl Strategy<Value = BusinessDuration> {
        prop_oneof![
            (1u32..200_000).prop_map(|m| BusinessDuration::minutes(m).unwrap()),
            (1u16..400).prop_map(|n| BusinessDuration::days(n).unwrap()),
            Just(BusinessDuration::EndOfDay),
        ]
    }

    fn is_closing(cal: &BusinessCalendar, t: Timestamp) -> bool {
        !cal.is_open(t) && cal.is_open(t - SignedDuration::from_nanos(1))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn adding_minutes_then_measuring_gives_them_back(c in 0usize..7, t in instant(), m in 1u32..300_000) {
            let cal = &calendars()[c];
            let t = cal.next_open(t);
            let end = cal.add(t, &BusinessDuration::minutes(m).unwrap());
            prop_assert_eq!(cal.business_minutes_between(t, end), i64::from(m));
            prop_assert_eq!(cal.business_minutes_between(end, t), -i64::from(m));
        }

        #[test]
        fn later_starts_never_give_earlier_deadlines(c in 0usize..7, t in instant(), gap in 0i64..20_000, dur in duration()) {
            let cal = &calendars()[c];
            let later = t + SignedDuration::from_mins(gap);
            prop_assert!(cal.add(t, &dur) <= cal.add(later, &dur));
        }

        #[test]
        fn deadlines_land_in_opening_hours_or_at_a_closing(c in 0usize..7, t in instant(), dur in duration()) {
            let cal = &calendars()[c];
            let end = cal.add(t, &dur);
            prop_assert!(end > t);
            prop_assert!(cal.is_open(end) || is_closing(cal, end), "{} + {} = {}", t, dur, end);
            let slot = cal.next_reminder_slot(t);
            prop_assert!(slot >= t && cal.is_open(slot));
        }

        #[test]
        fn skipping_weeks_counts_like_walking_every_minute(c in 0usize..7, t in instant(), len in 0i64..(16 * 24 * 60)) {
            let cal = &calendars()[c];
            let b = t + SignedDuration::from_mins(len);
            let walked = (0..len).filter(|m| cal.is_open(t + SignedDuration::from_mins(*m))).count() as i64;
            prop_assert_eq!(cal.business_minutes_between(t, b), walked);
        }

        #[test]
        fn pauses_only_ever_push_a_deadline_later(
            c in 0usize..7, t in instant(), m in 1u32..20_000,
            pauses in proptest::collection::vec((0i64..40_000, 1i64..5_000), 0..4),
        ) {
            let cal = &calendars()[c];
            let dur = BusinessDuration::minutes(m).unwrap();
            let pauses: Vec<_> = pauses.iter()
                .map(|(s, l)| (t + SignedDuration::from_mins(*s), Some(t + SignedDuration::from_mins(s + l))))
                .collect();
            let due = cal.add_with_pauses(t, &dur, &pauses).expect("every pause has ended");
            prop_assert!(due >= cal.add(t, &dur));
            prop_assert_eq!(cal.elapsed_excluding(t, due, &pauses), SignedDuration::from_mins(i64::from(m)));
        }

        #[test]
        fn pauses_over_before_the_start_change_nothing(
            c in 0usize..7, t in instant(), dur in duration(),
            pauses in proptest::collection::vec((1i64..40_000, 0i64..5_000), 0..3),
        ) {
            let cal = &calendars()[c];
            let pauses: Vec<_> = pauses.iter()
                .map(|(s, l)| (t - SignedDuration::from_mins(s + l), Some(t - SignedDuration::from_mins(*s))))
                .collect();
            // The shortcut gives what counting around the pauses gives.
            prop_assert_eq!(cal.add_with_pauses(t, &dur, &pauses), cal.add_counting_pauses(t, &dur, &pauses));
            prop_assert_eq!(cal.add_with_pauses(t, &dur, &pauses), Some(cal.add(t, &dur)));
        }
    }
}
