//! The SLA clocks of one escalation run: acknowledge, interim update and resolve, counted in
//! business time on the calendar the run started with, and the timers they need.
//!
//! A run starts when a ticket is escalated and continues through every move up the chain, so
//! the customer's clocks never restart because the escalation changed hands. The clocks are
//! plain data, stored beside the escalation; every function here takes `now`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::escalation::default_next_rung;
use crate::policy::EscalationSnapshot;
use crate::Target;

/// One of the three promises an escalation makes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Someone takes ownership.
    Acknowledge,
    /// The customer hears from the owner at the policy's cadence.
    Update,
    /// The escalation is resolved.
    Resolve,
}

impl Clock {
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Acknowledge => "acknowledge",
            Clock::Update => "update",
            Clock::Resolve => "resolve",
        }
    }
}

/// Where a clock stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Running,
    /// Stopped while the ticket waits on the customer.
    Paused,
    Met,
    Breached,
}

/// A stretch of time during which the ticket waited on the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Timestamp,
    /// Still waiting when `None`.
    pub until: Option<Timestamp>,
}

/// The state of a run's clocks, stored with the escalation and carried up the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClocks {
    pub started_at: Timestamp,
    pub acknowledge_due: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    /// Start of the current interim-update window: the start, the owner's last update, or
    /// the end of the last pause.
    pub update_from: Timestamp,
    pub update_due: Timestamp,
    pub last_update_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
    /// Clocks whose deadline passed, with when that was recorded. An update clock is
    /// re-armed by the next update; the others stay breached.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub breached: BTreeMap<Clock, Timestamp>,
    /// When each clock's holder was last reminded. The acknowledgement reminder belongs to
    /// the current rung and is forgotten when the escalation moves up.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reminded: BTreeMap<Clock, Timestamp>,
    pub closed_at: Option<Timestamp>,
}

/// One clock as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClockView {
    /// `None` while paused (the deadline is not known until the customer answers).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    pub state: ClockState,
}

/// All three deadlines of an escalation with their state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deadlines {
    pub acknowledge: ClockView,
    pub update: ClockView,
    pub resolve: ClockView,
}

/// A run's deadlines and when they were met, from which its clocks' states at any time
/// follow (see [`SlaClocks::due_times`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueTimes {
    pub acknowledge_due: Timestamp,
    /// The first acknowledgement, or else the end of the run.
    pub acknowledged_at: Option<Timestamp>,
    /// `None` while paused.
    pub update_due: Option<Timestamp>,
    /// `None` while paused.
    pub resolve_due: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

impl DueTimes {
    /// The clocks as of `now`.
    pub fn deadlines(&self, now: Timestamp) -> Deadlines {
        let at = self.closed_at.unwrap_or(now).min(now);
        let closed = self.closed_at.is_some();
        let judge = |due: Timestamp, done: Option<Timestamp>| match done {
            Some(t) if t <= due => ClockState::Met,
            Some(_) => ClockState::Breached,
            None if at >= due => ClockState::Breached,
            None => ClockState::Running,
        };
        let acknowledge = ClockView {
            due_at: Some(self.acknowledge_due),
            state: judge(self.acknowledge_due, self.acknowledged_at),
        };
        let update = match self.update_due {
            None => ClockView {
                due_at: None,
                state: ClockState::Paused,
            },
            Some(due) => {
                let state = match judge(due, None) {
                    ClockState::Running if closed => ClockState::Met,
                    s => s,
                };
                ClockView {
                    due_at: Some(due),
                    state,
                }
            }
        };
        let resolve = match self.resolve_due {
            None => ClockView {
                due_at: None,
                state: ClockState::Paused,
            },
            Some(due) => ClockView {
                due_at: Some(due),
                state: judge(due, self.closed_at),
            },
        };
        Deadlines {
            acknowledge,
            update,
            resolve,
        }
    }
}

/// What a durable timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// The current rung did not acknowledge in time: move to the next rung.
    RungTimeout,
    /// Remind whoever holds the clock.
    Remind(Clock),
    /// The clock's deadline passed: record the breach and tell the rung above.
    Due(Clock),
    /// A ticket not escalated got no first response in time: escalate it.
    FirstResponse,
}

impl TimerKind {
    pub const ESCALATION_KINDS: [TimerKind; 7] = [
        TimerKind::RungTimeout,
        TimerKind::Remind(Clock::Acknowledge),
        TimerKind::Remind(Clock::Update),
        TimerKind::Remind(Clock::Resolve),
        TimerKind::Due(Clock::Acknowledge),
        TimerKind::Due(Clock::Update),
        TimerKind::Due(Clock::Resolve),
    ];

    /// The stored name, e.g. `remind_update`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::RungTimeout => "rung_timeout",
            TimerKind::Remind(Clock::Acknowledge) => "remind_acknowledge",
            TimerKind::Remind(Clock::Update) => "remind_update",
            TimerKind::Remind(Clock::Resolve) => "remind_resolve",
            TimerKind::Due(Clock::Acknowledge) => "due_acknowledge",
            TimerKind::Due(Clock::Update) => "due_update",
            TimerKind::Due(Clock::Resolve) => "due_resolve",
            TimerKind::FirstResponse => "first_response",
        }
    }

    pub fn parse(name: &str) -> Option<TimerKind> {
        Self::ESCALATION_KINDS
            .into_iter()
            .chain([TimerKind::FirstResponse])
            .find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for TimerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a message on a ticket counts as the response the SLA clocks wait for: a public
/// reply by staff, or a phone call with the customer that staff logged (whoever dialled).
/// Internal notes, the customer's own messages and messages the system sends by itself do
/// not.
pub fn counts_as_response(public: bool, logged_call: bool, from_customer: bool) -> bool {
    logged_call || (public && !from_customer)
}

/// The rung above position `pos` of `chain` (1-based; 0 means the current target is not on
/// the chain) as `(position, target)`. Past the end of the chain the built-in ladder goes on
/// up to platform support; nothing is above the platform.
pub fn next_on_chain(chain: &[Target], pos: usize, current: &Target) -> Option<(usize, Target)> {
    if *current == Target::Platform {
        return None;
    }
    if let Some((i, t)) = chain
        .iter()
        .enumerate()
        .skip(pos)
        .find(|(_, t)| *t != current)
    {
        return Some((i + 1, t.clone()));
    }
    default_next_rung(current).map(|t| (pos.max(chain.len()) + 1, t))
}

/// The position of `target` on `chain` (1-based), or 0 when it is not on it.
pub fn position_on_chain(chain: &[Target], target: &Target) -> usize {
    chain.iter().position(|t| t == target).map_or(0, |i| i + 1)
}

impl SlaClocks {
    /// The clocks of a run that starts at `now` under `snap`.
    pub fn start(snap: &EscalationSnapshot, now: Timestamp) -> SlaClocks {
        SlaClocks {
            started_at: now,
            acknowledge_due: snap.acknowledge_due(now),
            acknowledged_at: None,
            update_from: now,
            update_due: snap.update_due(now),
            last_update_at: None,
            pauses: Vec::new(),
            breached: BTreeMap::new(),
            reminded: BTreeMap::new(),
            closed_at: None,
        }
    }

    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.until.is_none())
    }

    fn pause_spans(&self) -> Vec<(Timestamp, Option<Timestamp>)> {
        self.pauses.iter().map(|p| (p.from, p.until)).collect()
    }

    /// The resolution deadline; `None` while paused.
    pub fn resolve_due(&self, snap: &EscalationSnapshot) -> Option<Timestamp> {
        snap.resolve_due(self.started_at, &self.pause_spans())
    }

    /// The update deadline; `None` while paused.
    pub fn update_due(&self) -> Option<Timestamp> {
        (!self.is_paused()).then_some(self.update_due)
    }

    /// Someone took ownership. Only the first acknowledgement of a run counts.
    pub fn acknowledge(&mut self, now: Timestamp) {
        self.acknowledged_at.get_or_insert(now);
        self.reminded.remove(&Clock::Acknowledge);
    }

    /// The owner answered the customer: the next update is due one cadence later, and a
    /// breached update clock runs again.
    pub fn customer_updated(&mut self, snap: &EscalationSnapshot, now: Timestamp) {
        self.last_update_at = Some(now);
        self.update_from = now;
        self.update_due = snap.update_due(now);
        self.breached.remove(&Clock::Update);
        self.reminded.remove(&Clock::Update);
    }

    /// The ticket now waits on the customer. Returns false when it already did.
    pub fn pause(&mut self, now: Timestamp) -> bool {
        if self.is_paused() || self.closed_at.is_some() {
            return false;
        }
        self.pauses.push(Pause {
            from: now,
            until: None,
        });
        true
    }

    /// The customer answered: the clocks run again, and the owner owes the next update one
    /// cadence from now. Returns false when nothing was paused.
    pub fn resume(&mut self, snap: &EscalationSnapshot, now: Timestamp) -> bool {
        match self.pauses.last_mut() {
            Some(p) if p.until.is_none() => {
                p.until = Some(now.max(p.from));
                self.update_from = now;
                self.update_due = snap.update_due(now);
                self.reminded.remove(&Clock::Update);
                self.reminded.remove(&Clock::Resolve);
                true
            }
            _ => false,
        }
    }

    /// The escalation moved up a rung: the new rung gets its own acknowledgement reminders.
    pub fn moved_up(&mut self) {
        self.reminded.remove(&Clock::Acknowledge);
    }

    /// The run ended (resolved or de-escalated).
    pub fn close(&mut self, now: Timestamp) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.until.is_none()) {
            p.until = Some(now.max(p.from));
        }
        self.closed_at.get_or_insert(now);
    }

    /// The three deadlines and where each stands at `now`.
    pub fn deadlines(&self, snap: &EscalationSnapshot, now: Timestamp) -> Deadlines {
        self.due_times(snap).deadlines(now)
    }

    /// What the clocks' states follow from, apart from the time of asking: the escalation
    /// metrics keep this per run and judge it with [`DueTimes::deadlines`], so a report and
    /// an escalation's deadlines never disagree.
    pub fn due_times(&self, snap: &EscalationSnapshot) -> DueTimes {
        DueTimes {
            acknowledge_due: self.acknowledge_due,
            acknowledged_at: self.acknowledged_at.or(self.closed_at),
            update_due: self.update_due(),
            resolve_due: self.resolve_due(snap),
            closed_at: self.closed_at,
        }
    }

    /// When the holder of `clock` should next be reminded of a deadline `due` whose window
    /// opened at `from`: the first reminder part-way through, then at the policy's interval
    /// until someone acts, always inside opening hours.
    fn reminder(
        &self,
        snap: &EscalationSnapshot,
        clock: Clock,
        from: Timestamp,
        due: Timestamp,
    ) -> Timestamp {
        match self.reminded.get(&clock) {
            None => snap.reminder_due(from, due),
            Some(last) => snap.next_reminder(*last),
        }
    }

    /// The timers an active escalation needs now, given its current rung (reached at
    /// `rung_started`, to acknowledge by `rung_ack_due`). Storing exactly this set after
    /// every change keeps the timer table consistent with the clocks.
    pub fn timers(
        &self,
        snap: &EscalationSnapshot,
        rung_started: Timestamp,
        rung_ack_due: Option<Timestamp>,
    ) -> Vec<(TimerKind, Timestamp)> {
        let mut out = Vec::new();
        if self.closed_at.is_some() {
            return out;
        }
        if self.acknowledged_at.is_none() {
            if let Some(due) = rung_ack_due {
                out.push((TimerKind::RungTimeout, due));
                let remind = self.reminder(snap, Clock::Acknowledge, rung_started, due);
                if remind < due {
                    out.push((TimerKind::Remind(Clock::Acknowledge), remind));
                }
            }
            if !self.breached.contains_key(&Clock::Acknowledge) {
                out.push((TimerKind::Due(Clock::Acknowledge), self.acknowledge_due));
            }
        }
        if self.is_paused() {
            return out;
        }
        out.push((
            TimerKind::Remind(Clock::Update),
            self.reminder(snap, Clock::Update, self.update_from, self.update_due),
        ));
        if !self.breached.contains_key(&Clock::Update) {
            out.push((TimerKind::Due(Clock::Update), self.update_due));
        }
        if let Some(due) = self.resolve_due(snap) {
            out.push((
                TimerKind::Remind(Clock::Resolve),
                self.reminder(snap, Clock::Resolve, self.started_at, due),
            ));
            if !self.breached.contains_key(&Clock::Resolve) {
                out.push((TimerKind::Due(Clock::Resolve), due));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BusinessCalendar;
    use crate::policy::{Match, Policy, Rule, Rung, Sla};
    use crate::{Role, UserId};

    fn at(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn d(s: &str) -> crate::BusinessDuration {
        s.parse().expect("valid duration")
    }

    /// The default policy's standard rule: Monday to Friday 09:00-17:00 UTC, acknowledge in
    /// a business day, update daily, resolve in three business days, remind every 4 hours.
    fn standard() -> EscalationSnapshot {
        Policy::default().snapshot(2).expect("the standard rule")
    }

    fn drill() -> EscalationSnapshot {
        let mut policy = Policy {
            calendars: vec![BusinessCalendar {
                name: "default".into(),
                ..BusinessCalendar::always_open()
            }],
            ..Policy::default()
        };
        policy.rules = vec![Rule {
            name: "drill".into(),
            calendar: "default".into(),
            first_response_within: None,
            reescalate_on_breach: true,
            remind_at_percent: 50,
            remind_every: d("10s"),
            when: Match::default(),
            sla: Sla {
                acknowledge: d("30s"),
                update_every: d("20s"),
                resolve: d("2m"),
            },
            chain: vec![
                Rung {
                    target: Target::User {
                        id: UserId("u1".into()),
                    },
                    ack_within: d("10s"),
                },
                Rung {
                    target: Target::Owner,
                    ack_within: d("10s"),
                },
            ],
        }];
        policy.snapshot(0).expect("the drill rule")
    }

    #[test]
    fn all_three_clocks_run_met_or_breach() {
        let snap = standard();
        // Monday 2 June 2025, 10:00.
        let start = at("2025-06-02T10:00:00Z");
        let mut c = SlaClocks::start(&snap, start);
        let view = c.deadlines(&snap, start);
        assert_eq!(view.acknowledge.due_at, Some(at("2025-06-03T10:00:00Z")));
        assert_eq!(view.update.due_at, Some(at("2025-06-03T10:00:00Z")));
        assert_eq!(view.resolve.due_at, Some(at("2025-06-05T10:00:00Z")));
        assert!([
            view.acknowledge.state,
            view.update.state,
            view.resolve.state
        ]
        .iter()
        .all(|s| *s == ClockState::Running));

        c.acknowledge(at("2025-06-02T11:00:00Z"));
        // A second acknowledgement (after a move up) does not rewrite the first.
        c.acknowledge(at("2025-06-02T12:00:00Z"));
        assert_eq!(c.acknowledged_at, Some(at("2025-06-02T11:00:00Z")));
        let later = at("2025-06-03T12:00:00Z");
        let view = c.deadlines(&snap, later);
        assert_eq!(view.acknowledge.state, ClockState::Met);
        assert_eq!(view.update.state, ClockState::Breached);
        assert_eq!(view.resolve.state, ClockState::Running);

        // An update re-arms the update clock one business day later.
        c.customer_updated(&snap, later);
        let view = c.deadlines(&snap, later);
        assert_eq!(view.update.due_at, Some(at("2025-06-04T12:00:00Z")));
        assert_eq!(view.update.state, ClockState::Running);

        c.close(at("2025-06-06T09:00:00Z"));
        let view = c.deadlines(&snap, at("2025-06-09T09:00:00Z"));
        assert_eq!(view.resolve.state, ClockState::Breached);
        assert_eq!(view.update.state, ClockState::Breached);
        assert_eq!(view.acknowledge.state, ClockState::Met);
    }

    #[test]
    fn waiting_on_the_customer_pauses_update_and_resolution_but_not_acknowledgement() {
        let snap = standard();
        let start = at("2025-06-02T10:00:00Z");
        let mut c = SlaClocks::start(&snap, start);
        assert!(c.pause(at("2025-06-02T15:00:00Z")));
        assert!(!c.pause(at("2025-06-02T16:00:00Z")), "already paused");
        let view = c.deadlines(&snap, at("2025-06-04T10:00:00Z"));
        assert_eq!(
            (view.update.state, view.update.due_at),
            (ClockState::Paused, None)
        );
        assert_eq!(
            (view.resolve.state, view.resolve.due_at),
            (ClockState::Paused, None)
        );
        assert_eq!(view.acknowledge.state, ClockState::Breached);
        let paused_timers = c.timers(&snap, start, Some(at("2025-06-03T10:00:00Z")));
        assert!(paused_timers.iter().all(|(k, _)| matches!(
            k,
            TimerKind::RungTimeout
                | TimerKind::Remind(Clock::Acknowledge)
                | TimerKind::Due(Clock::Acknowledge)
        )));

        // The customer answers on Wednesday at 10:00 after eleven business hours of waiting:
        // resolution moves from Thursday 10:00 by exactly that much business time.
        assert!(c.resume(&snap, at("2025-06-04T10:00:00Z")));
        let view = c.deadlines(&snap, at("2025-06-04T10:00:00Z"));
        assert_eq!(view.resolve.due_at, Some(at("2025-06-06T13:00:00Z")));
        assert_eq!(view.update.due_at, Some(at("2025-06-05T10:00:00Z")));
        assert_eq!(view.resolve.state, ClockState::Running);
    }

    #[test]
    fn the_timers_follow_the_clocks() {
        let snap = drill();
        let t0 = at("2026-03-01T00:00:00Z");
        let s = |secs: i64| t0 + jiff::SignedDuration::from_secs(secs);
        let mut c = SlaClocks::start(&snap, t0);
        let timers: BTreeMap<_, _> = c.timers(&snap, t0, Some(s(10))).into_iter().collect();
        assert_eq!(
            timers,
            BTreeMap::from([
                (TimerKind::RungTimeout, s(10)),
                (TimerKind::Remind(Clock::Acknowledge), s(5)),
                (TimerKind::Due(Clock::Acknowledge), s(30)),
                (TimerKind::Remind(Clock::Update), s(10)),
                (TimerKind::Due(Clock::Update), s(20)),
                (TimerKind::Remind(Clock::Resolve), s(60)),
                (TimerKind::Due(Clock::Resolve), s(120)),
            ])
        );
        // After a reminder, the next one comes at the policy's interval, until someone acts.
        c.reminded.insert(Clock::Update, s(10));
        c.breached.insert(Clock::Update, s(20));
        let timers: BTreeMap<_, _> = c.timers(&snap, t0, Some(s(10))).into_iter().collect();
        assert_eq!(timers.get(&TimerKind::Remind(Clock::Update)), Some(&s(20)));
        assert_eq!(timers.get(&TimerKind::Due(Clock::Update)), None);
        // Acknowledged: no more rung timeouts or acknowledgement reminders.
        c.acknowledge(s(12));
        let timers = c.timers(&snap, t0, Some(s(10)));
        assert!(timers.iter().all(|(k, _)| !matches!(
            k,
            TimerKind::RungTimeout | TimerKind::Remind(Clock::Acknowledge)
        )));
        c.close(s(13));
        assert!(c.timers(&snap, t0, Some(s(10))).is_empty());
    }

    #[test]
    fn reminders_outside_opening_hours_wait_for_the_morning() {
        let snap = standard();
        // Friday 16:00: the 80% mark of an update due Monday 16:00 is Monday 14:24; its
        // repeat four business hours after a reminder sent Friday 16:30 is Monday 12:30.
        let start = at("2025-06-06T16:00:00Z");
        let mut c = SlaClocks::start(&snap, start);
        let remind = |c: &SlaClocks| {
            c.timers(&snap, start, None)
                .into_iter()
                .find(|(k, _)| *k == TimerKind::Remind(Clock::Update))
                .map(|(_, t)| t)
        };
        assert_eq!(remind(&c), Some(at("2025-06-09T14:24:00Z")));
        c.reminded.insert(Clock::Update, at("2025-06-06T16:30:00Z"));
        assert_eq!(remind(&c), Some(at("2025-06-09T12:30:00Z")));
    }

    #[test]
    fn walking_the_chain() {
        let chain = vec![
            Target::User {
                id: UserId("u1".into()),
            },
            Target::Owner,
            Target::Role { role: Role::Admin },
        ];
        let u1 = chain[0].clone();
        assert_eq!(next_on_chain(&chain, 1, &u1), Some((2, Target::Owner)));
        assert_eq!(
            next_on_chain(&chain, 2, &Target::Owner),
            Some((3, Target::Role { role: Role::Admin }))
        );
        // Past the end, the built-in ladder goes on to the platform, and stops there.
        assert_eq!(
            next_on_chain(&chain, 3, &chain[2]),
            Some((4, Target::Platform))
        );
        assert_eq!(next_on_chain(&chain, 4, &Target::Platform), None);
        // A target named by hand, off the chain, climbs onto its first rung.
        let team = Target::Team {
            id: crate::TeamId("billing".into()),
        };
        assert_eq!(position_on_chain(&chain, &team), 0);
        assert_eq!(next_on_chain(&chain, 0, &team), Some((1, u1.clone())));
        // Named by hand and on the chain: the rung above it.
        assert_eq!(position_on_chain(&chain, &Target::Owner), 2);
        assert_eq!(
            next_on_chain(&chain, 0, &Target::Platform),
            None,
            "nothing is above the platform"
        );
    }

    #[test]
    fn what_counts_as_a_response() {
        assert!(counts_as_response(true, false, false), "a public reply");
        assert!(counts_as_response(false, true, false), "a logged call");
        assert!(
            counts_as_response(false, true, true),
            "a logged inbound call"
        );
        assert!(!counts_as_response(false, false, false), "an internal note");
        assert!(
            !counts_as_response(true, false, true),
            "the customer's own message"
        );
    }

    #[test]
    fn timer_names_round_trip() {
        for k in TimerKind::ESCALATION_KINDS
            .into_iter()
            .chain([TimerKind::FirstResponse])
        {
            assert_eq!(TimerKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TimerKind::parse("nap"), None);
    }
}
