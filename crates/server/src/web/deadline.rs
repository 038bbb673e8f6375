//! Deadlines as people count them: "due in 2 h 10 m (business time) · Tue 10:30" in the
//! organisation's time zone, "breached 25 m ago", coloured by what they mean.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use ladder_core::policy::EscalationSnapshot;
use ladder_core::sla::{ClockState, ClockView};
use ladder_storage::escalations::Escalation;
use ladder_storage::StorageError;

use crate::sla;

/// One deadline chip.
pub struct Chip {
    /// What the clock is for ("Acknowledge", "Update", "Resolve").
    pub label: &'static str,
    pub text: String,
    /// `breached`, `soon` (inside the reminder window), `running`, `met` or `paused`.
    pub class: &'static str,
    due: Option<Timestamp>,
}

/// "2 h 10 m", "25 m", "3 d 4 h", "less than a minute".
pub fn span(d: SignedDuration) -> String {
    let mins = d.as_secs().unsigned_abs() / 60;
    let (days, hours, minutes) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "less than a minute".to_owned(),
        (0, 0, m) => format!("{m} m"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} m"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The time zone of a calendar; an unknown name is a corrupt snapshot (policies are validated
/// when saved, so it cannot come from a person).
pub fn zone(name: &str) -> Result<TimeZone, StorageError> {
    TimeZone::get(name).map_err(|e| StorageError::Corrupt {
        table: "escalation_snapshots",
        detail: format!("time zone {name:?} does not exist: {e}"),
    })
}

/// "Tue 10:30" in `tz`, or "Tue 3 Jun 10:30" when it is not within the coming week.
pub fn local(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let zoned = at.to_zoned(tz.clone());
    let close = (at.as_second() - now.as_second()).abs() < 6 * 86_400;
    if close {
        zoned.strftime("%a %H:%M").to_string()
    } else {
        zoned.strftime("%a %-d %b %H:%M").to_string()
    }
}

/// A date and time for the conversation and the audit trail: "Mon 2 Jun 10:00".
pub fn when(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%a %-d %b %H:%M")
        .to_string()
}

fn chip(
    label: &'static str,
    view: &ClockView,
    start: Timestamp,
    snap: &EscalationSnapshot,
    now: Timestamp,
    tz: &TimeZone,
) -> Chip {
    let (text, class) = match (view.state, view.due_at) {
        (ClockState::Paused, _) | (_, None) => {
            ("paused while waiting on the customer".to_owned(), "paused")
        }
        (ClockState::Met, Some(_)) => ("met".to_owned(), "met"),
        (ClockState::Breached, Some(due)) => (
            format!("breached {} ago", span(now.duration_since(due))),
            "breached",
        ),
        (ClockState::Running, Some(due)) => {
            let left = snap.calendar.business_time_between(now, due);
            let soon = snap.reminder_due(start, due) <= now;
            (
                format!(
                    "due in {} (business time) · {}",
                    span(left),
                    local(due, now, tz)
                ),
                if soon { "soon" } else { "running" },
            )
        }
    };
    Chip {
        label,
        text,
        class,
        due: view.due_at,
    }
}

/// The three deadlines of an escalation as chips, in the snapshot calendar's time zone.
pub fn chips(e: &Escalation, now: Timestamp) -> Result<Vec<Chip>, StorageError> {
    let (snap, run) = sla::state_of(e)?;
    let tz = zone(&snap.calendar.time_zone)?;
    let d = run.clocks.deadlines(&snap, now);
    let c = &run.clocks;
    Ok(vec![
        chip("Acknowledge", &d.acknowledge, c.started_at, &snap, now, &tz),
        chip("Update", &d.update, c.update_from, &snap, now, &tz),
        chip("Resolve", &d.resolve, c.started_at, &snap, now, &tz),
    ])
}

/// The deadline that matters most now: a breached one, else the soonest still running.
pub fn nearest(e: &Escalation, now: Timestamp) -> Result<Option<Chip>, StorageError> {
    let all = chips(e, now)?;
    let breached = all.iter().position(|c| c.class == "breached");
    let pick = breached.or_else(|| {
        all.iter()
            .enumerate()
            .filter(|(_, c)| c.class == "running" || c.class == "soon")
            .min_by_key(|(_, c)| c.due)
            .map(|(i, _)| i)
    });
    Ok(pick.and_then(|i| all.into_iter().nth(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_count() {
        assert_eq!(span(SignedDuration::from_mins(130)), "2 h 10 m");
        assert_eq!(span(SignedDuration::from_mins(25)), "25 m");
        assert_eq!(span(SignedDuration::from_mins(120)), "2 h");
        assert_eq!(span(SignedDuration::from_mins(60 * 27 + 5)), "1 d 3 h");
        assert_eq!(span(SignedDuration::from_secs(30)), "less than a minute");
        assert_eq!(span(SignedDuration::from_mins(-25)), "25 m");
    }
}
