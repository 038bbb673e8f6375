//! The tenant's escalation policy: the matrix of rules and chains, SLA targets, business
//! calendars, trigger modes, authority limits and which categories lock front-desk replies.
//!
//! A policy is data. It is stored as JSON, exported and imported as TOML, checked by
//! [`Policy::validate`] against the tenant's directory, and tried out with
//! [`Policy::simulate`]. When an escalation starts, the matching rule and its calendar are
//! copied into an [`EscalationSnapshot`], so editing the policy never moves the due times of
//! escalations already running.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

use crate::calendar::{BusinessCalendar, BusinessDuration, CalendarError};
use crate::triggers::{IncidentRule, RepeatRule};
use crate::{
    Category, Channel, CustomerTier, Priority, Role, Target, TeamId, TriggerKind, TriggerMode,
    UserId,
};

/// The name of the calendar rules use when they name none.
pub const DEFAULT_CALENDAR: &str = "default";

/// A tenant's whole escalation policy, versioned as one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Policy {
    /// Bumped by storage on every save; kept in the document so an export says which
    /// version it came from.
    #[schema(format = "uint32", minimum = 0, maximum = 4294967295.0)]
    pub version: u32,
    /// ISO 4217 code of the currency in which authority limits and compensation are counted.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// While an escalation of one of these categories is active, only its owner and the
    /// tenant's owners/admins may reply to the customer.
    pub reply_lock_categories: Vec<Category>,
    /// The largest compensation, in minor units, each role may grant without approval;
    /// `null` (in TOML `"unlimited"`) for no limit. A role missing here may grant nothing.
    pub authority_limits: BTreeMap<Role, AuthorityLimit>,
    /// What to do when each trigger kind fires, and extra phrases that fire it.
    pub triggers: BTreeMap<TriggerKind, TriggerSetting>,
    /// Named business calendars; rules refer to them by name, and one is named "default".
    pub calendars: Vec<BusinessCalendar>,
    /// The escalation matrix, in order: the first rule that matches a ticket applies.
    pub rules: Vec<Rule>,
    /// Thresholds of the triggers that come from history; their modes are in `triggers`.
    pub history: HistoryTriggers,
    /// The windows the escalation metrics count returns and repeats in.
    pub metrics: MetricsSettings,
    /// What a customer's email does to their ticket.
    pub inbound: InboundSettings,
}

/// The most a role may grant alone: an amount in minor units, or no limit at all.
///
/// Unlimited is JSON `null` (and `"unlimited"` in TOML, which has no null), not a sentinel
/// number: `i64::MAX` does not survive a JavaScript client, which rounds it, so a policy read
/// and saved back by a browser would change. Policies stored before this held `i64::MAX`
/// for the owner, and read back as unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorityLimit {
    UpTo(i64),
    Unlimited,
}

impl AuthorityLimit {
    /// Whether an amount (minor units) is within the limit.
    pub fn covers(self, amount_minor: i64) -> bool {
        match self {
            AuthorityLimit::UpTo(limit) => amount_minor <= limit,
            AuthorityLimit::Unlimited => true,
        }
    }
}

/// The document's schema of a limit: what `validate` accepts, a whole amount of at least 0, or
/// `null` for no limit.
impl utoipa::PartialSchema for AuthorityLimit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .description(Some(
                "An amount in minor units (at least 0), or null for no limit.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for AuthorityLimit {}

const UNLIMITED: &str = "unlimited";

impl Serialize for AuthorityLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AuthorityLimit::UpTo(limit) => s.serialize_i64(*limit),
            // TOML skips a None map value; `to_toml` writes "unlimited" in its place.
            AuthorityLimit::Unlimited => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for AuthorityLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AuthorityLimit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an amount in minor units, or null (\"unlimited\") for no limit")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<AuthorityLimit, E> {
                Ok(if n == i64::MAX {
                    AuthorityLimit::Unlimited
                } else {
                    AuthorityLimit::UpTo(n)
                })
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<AuthorityLimit, E> {
                i64::try_from(n)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
                    .and_then(|n| self.visit_i64(n))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AuthorityLimit, E> {
                if v == UNLIMITED {
                    Ok(AuthorityLimit::Unlimited)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<AuthorityLimit, E> {
                Ok(AuthorityLimit::Unlimited)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<AuthorityLimit, E> {
                Ok(AuthorityLimit::Unlimited)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// How one trigger kind behaves for a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TriggerSetting {
    pub mode: TriggerMode,
    /// Phrases, in the tenant's own words, that also fire this kind.
    pub extra_phrases: Vec<String>,
    /// The category an automatic escalation for this kind takes; left out, the built-in
    /// one ([`default_trigger_category`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

impl Default for TriggerSetting {
    fn default() -> Self {
        TriggerSetting {
            mode: TriggerMode::Suggest,
            extra_phrases: Vec::new(),
            category: None,
        }
    }
}

/// One row of the matrix: which tickets it applies to, who they climb to, and how fast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique within the policy; shown on escalations and in validation errors.
    pub name: String,
    /// The name of the calendar the SLA clocks of this rule run on.
    #[serde(default = "default_calendar_name")]
    pub calendar: String,
    /// Auto-escalate a ticket that has not been escalated and has had no first response
    /// within this time; `None` leaves such tickets alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1h")]
    pub first_response_within: Option<BusinessDuration>,
    /// Move the escalation one rung up when an SLA target (update or resolve) is missed.
    #[serde(default)]
    pub reescalate_on_breach: bool,
    /// Remind whoever holds the escalation when this share of a deadline's business time
    /// has passed.
    #[serde(default = "default_remind_at_percent")]
    #[schema(minimum = 1, maximum = 99)]
    pub remind_at_percent: u8,
    /// After the first reminder, remind again this often until someone acts.
    #[serde(default = "default_remind_every")]
    #[schema(value_type = String, example = "1h")]
    pub remind_every: BusinessDuration,
    /// Which tickets the rule applies to; left out, it applies to all.
    #[serde(default, skip_serializing_if = "Match::is_any")]
    pub when: Match,
    /// SLA targets, counted on the rule's calendar from the moment of escalation.
    pub sla: Sla,
    /// The rungs, lowest first: a rung not acknowledged in time escalates to the next.
    pub chain: Vec<Rung>,
}

fn default_calendar_name() -> String {
    DEFAULT_CALENDAR.to_owned()
}

fn default_remind_at_percent() -> u8 {
    80
}

fn default_remind_every() -> BusinessDuration {
    BusinessDuration::hours(1).expect("one hour is positive")
}

/// Which tickets a rule applies to. Each list is "any of"; an empty list matches anything.
/// A ticket matches when it matches every list (for `triggers`: when at least one of the
/// ticket's triggers is listed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Match {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<Priority>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<CustomerTier>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
}

/// One step of a chain: who, and how long they have to acknowledge before the next rung.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    pub target: Target,
    #[schema(value_type = String, example = "1h")]
    pub ack_within: BusinessDuration,
}

/// SLA targets of an escalation, in business time from the moment it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Someone takes ownership within this.
    #[schema(value_type = String, example = "1h")]
    pub acknowledge: BusinessDuration,
    /// The customer hears from the owner at least this often.
    #[schema(value_type = String, example = "4h")]
    pub update_every: BusinessDuration,
    /// The escalation is resolved within this.
    #[schema(value_type = String, example = "eod")]
    pub resolve: BusinessDuration,
}

/// What the matrix looks at in a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Facts {
    pub category: Category,
    pub priority: Priority,
    pub tier: CustomerTier,
    #[serde(default)]
    pub triggers: Vec<TriggerKind>,
    pub channel: Channel,
}

/// The people and teams of a tenant, for checking the targets a policy names.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub users: BTreeSet<UserId>,
    pub teams: BTreeSet<TeamId>,
}

fn dur(text: &str) -> BusinessDuration {
    text.parse().expect("built-in durations are well formed")
}

/// The built-in ladder: owner, then all admins, then platform support.
fn ladder(ack: &str) -> Vec<Rung> {
    [
        Target::Owner,
        Target::Role { role: Role::Admin },
        Target::Platform,
    ]
    .into_iter()
    .map(|target| Rung {
        target,
        ack_within: dur(ack),
    })
    .collect()
}

/// Urgent is same business day: an hour to acknowledge, news every four hours.
fn urgent_rule(name: &str, when: Match) -> Rule {
    Rule {
        name: name.to_owned(),
        calendar: default_calendar_name(),
        first_response_within: Some(dur("1h")),
        reescalate_on_breach: true,
        remind_at_percent: default_remind_at_percent(),
        remind_every: dur("30m"),
        when,
        sla: Sla {
            acknowledge: dur("1h"),
            update_every: dur("4h"),
            resolve: dur("eod"),
        },
        chain: ladder("1h"),
    }
}

/// Standard is three business days, with a daily update.
fn standard_rule() -> Rule {
    Rule {
        name: "standard".to_owned(),
        calendar: default_calendar_name(),
        first_response_within: None,
        reescalate_on_breach: false,
        remind_at_percent: default_remind_at_percent(),
        remind_every: dur("4h"),
        when: Match::default(),
        sla: Sla {
            acknowledge: dur("1bd"),
            update_every: dur("1bd"),
            resolve: dur("3bd"),
        },
        chain: ladder("1bd"),
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 0,
            currency: "USD".to_owned(),
            reply_lock_categories: vec![Category::Legal, Category::Clinical, Category::Safety],
            authority_limits: BTreeMap::from([
                (Role::Owner, AuthorityLimit::Unlimited),
                (Role::PlatformSupport, AuthorityLimit::UpTo(0)),
                (Role::Admin, AuthorityLimit::UpTo(100_000)),
                (Role::Specialist, AuthorityLimit::UpTo(20_000)),
                (Role::Agent, AuthorityLimit::UpTo(5_000)),
            ]),
            triggers: TriggerKind::TEXT_KINDS
                .iter()
                .map(|k| (*k, TriggerSetting::default()))
                .collect(),
            calendars: vec![BusinessCalendar::default()],
            // Matches are "all of" across lists, so "urgent or critical, or legal, clinical or
            // safety" is two rules with the same ladder.
            rules: vec![
                urgent_rule(
                    "urgent",
                    Match {
                        priorities: vec![Priority::Urgent, Priority::Critical],
                        ..Match::default()
                    },
                ),
                urgent_rule(
                    "sensitive",
                    Match {
                        categories: vec![Category::Legal, Category::Clinical, Category::Safety],
                        ..Match::default()
                    },
                ),
                standard_rule(),
            ],
            history: HistoryTriggers::default(),
            metrics: MetricsSettings::default(),
            inbound: InboundSettings::default(),
        }
    }
}

impl Policy {
    /// The mode configured for a trigger kind (`suggest` when the policy says nothing).
    pub fn trigger_mode(&self, kind: TriggerKind) -> TriggerMode {
        self.triggers
            .get(&kind)
            .map_or(TriggerMode::Suggest, |s| s.mode)
    }

    /// The compensation a role may grant alone, in minor units.
    pub fn authority_limit(&self, role: Role) -> AuthorityLimit {
        self.authority_limits
            .get(&role)
            .copied()
            .unwrap_or(AuthorityLimit::UpTo(0))
    }

    pub fn locks_replies(&self, category: Category) -> bool {
        self.reply_lock_categories.contains(&category)
    }

    /// The calendar of that name.
    pub fn calendar(&self, name: &str) -> Option<&BusinessCalendar> {
        self.calendars.iter().find(|c| c.name == name)
    }

    /// The first rule that applies to a ticket, with its position.
    pub fn match_rule(&self, facts: &Facts) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.when.matches(facts))
    }

    /// The calendar a rule runs on. A policy that passed [`validate`](Self::validate) always
    /// has it; otherwise the "default" calendar, then the built-in one, stand in.
    fn calendar_of(&self, rule: &Rule) -> BusinessCalendar {
        self.calendar(&rule.calendar)
            .or_else(|| self.calendar(DEFAULT_CALENDAR))
            .cloned()
            .unwrap_or_default()
    }

    /// The rule at `rule_index` and its calendar, frozen for one escalation.
    pub fn snapshot(&self, rule_index: usize) -> Option<EscalationSnapshot> {
        let rule = self.rules.get(rule_index)?;
        Some(EscalationSnapshot {
            policy_version: self.version,
            rule_index,
            rule: rule.clone(),
            calendar: self.calendar_of(rule),
        })
    }

    /// What would happen to a ticket with these facts if it were escalated at `now` and
    /// nobody acted: the rule, each rung's acknowledgement deadline and the SLA due times.
    pub fn simulate(&self, facts: &Facts, now: Timestamp) -> Option<Simulation> {
        let (index, _) = self.match_rule(facts)?;
        let snap = self.snapshot(index)?;
        let mut from = now;
        let chain = snap
            .rule
            .chain
            .iter()
            .map(|rung| {
                from = snap.calendar.add(from, &rung.ack_within);
                RungDue {
                    target: rung.target.clone(),
                    ack_due: from,
                }
            })
            .collect();
        let acknowledge_due = snap.acknowledge_due(now);
        Some(Simulation {
            rule: snap.rule.name.clone(),
            rule_index: index,
            calendar: snap.calendar.name.clone(),
            chain,
            acknowledge_due,
            acknowledge_reminder: snap.reminder_due(now, acknowledge_due),
            first_update_due: snap.update_due(now),
            resolve_due: snap.calendar.add(now, &snap.rule.sla.resolve),
            first_response_due: snap.first_response_due(now),
        })
    }

    /// Checks everything a person can get wrong in a policy, and reports every problem at
    /// once, each naming the rule (and rung) it is in.
    pub fn validate(&self, directory: &Directory) -> Result<(), Vec<PolicyError>> {
        let mut errors = Vec::new();
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            errors.push(PolicyError::Currency(self.currency.clone()));
        }
        for (role, limit) in &self.authority_limits {
            if let AuthorityLimit::UpTo(limit) = *limit {
                if limit < 0 {
                    errors.push(PolicyError::NegativeAuthorityLimit { role: *role, limit });
                }
            }
        }
        let mut calendar_names = BTreeSet::new();
        for cal in &self.calendars {
            if !calendar_names.insert(cal.name.as_str()) {
                errors.push(PolicyError::DuplicateCalendar(cal.name.clone()));
            }
            if let Err(problem) = cal.validate() {
                errors.push(PolicyError::Calendar {
                    calendar: cal.name.clone(),
                    problem,
                });
            }
        }
        if !calendar_names.contains(DEFAULT_CALENDAR) {
            errors.push(PolicyError::NoDefaultCalendar);
        }
        let mut rule_names = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let name = || rule.name.clone();
            if !rule_names.insert(rule.name.as_str()) {
                errors.push(PolicyError::DuplicateRule { rule: name() });
            }
            if !calendar_names.contains(rule.calendar.as_str()) {
                errors.push(PolicyError::UnknownCalendar {
                    rule: name(),
                    calendar: rule.calendar.clone(),
                });
            }
            if !(1..=99).contains(&rule.remind_at_percent) {
                errors.push(PolicyError::RemindAtPercent {
                    rule: name(),
                    percent: rule.remind_at_percent,
                });
            }
            if rule.chain.is_empty() {
                errors.push(PolicyError::EmptyChain { rule: name() });
            }
            for (rung, step) in rule.chain.iter().enumerate() {
                let rung = rung + 1;
                match &step.target {
                    Target::User { id } if !directory.users.contains(id) => {
                        errors.push(PolicyError::UnknownUser {
                            rule: name(),
                            rung,
                            user: id.clone(),
                        })
                    }
                    Target::Team { id } if !directory.teams.contains(id) => {
                        errors.push(PolicyError::UnknownTeam {
                            rule: name(),
                            rung,
                            team: id.clone(),
                        })
                    }
                    Target::Role { role } if !role.is_tenant_staff() => {
                        errors.push(PolicyError::RoleCannotTake {
                            rule: name(),
                            rung,
                            role: *role,
                        })
                    }
                    _ => {}
                }
            }
            if let Some(earlier) = self.rules[..i].iter().find(|e| e.when.covers(&rule.when)) {
                errors.push(PolicyError::Unreachable {
                    rule: name(),
                    shadowed_by: earlier.name.clone(),
                });
            }
        }
        if !self
            .rules
            .last()
            .is_some_and(|r| r.when.matches_every_ticket())
        {
            errors.push(PolicyError::NoCatchAll);
        }
        errors.extend(self.history.problems());
        errors.extend(self.metrics.problems());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The policy as a TOML document, for `ladder policy export`: sections for limits,
    /// triggers, calendars and rules; conditions, SLA targets and chains inline in each rule.
    pub fn to_toml(&self) -> String {
        let mut doc = toml_edit::ser::to_document(self)
            .expect("a policy has string keys and no values TOML lacks");
        let root = doc.as_table_mut();
        for key in [
            "authority_limits",
            "triggers",
            "history",
            "metrics",
            "inbound",
        ] {
            if let Some(item) = root.get_mut(key) {
                if let Some(table) = item.as_inline_table() {
                    *item = toml_edit::Item::Table(table.clone().into_table());
                }
            }
        }
        let unlimited: Vec<Role> = self
            .authority_limits
            .iter()
            .filter(|(_, limit)| **limit == AuthorityLimit::Unlimited)
            .map(|(role, _)| *role)
            .collect();
        if !unlimited.is_empty() {
            let limits = root
                .entry("authority_limits")
                .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
            if let Some(limits) = limits.as_table_like_mut() {
                for role in unlimited {
                    limits.insert(role.as_str(), toml_edit::value(UNLIMITED));
                }
            }
        }
        for key in ["calendars", "rules"] {
            let Some(item) = root.get_mut(key) else {
                continue;
            };
            let Some(list) = item.as_array().filter(|a| !a.is_empty()) else {
                continue;
            };
            let mut tables = toml_edit::ArrayOfTables::new();
            for value in list.iter() {
                let Some(inline) = value.as_inline_table() else {
                    continue;
                };
                let mut table = inline.clone().into_table();
                if let Some(chain) = table.get_mut("chain").and_then(|c| c.as_array_mut()) {
                    for rung in chain.iter_mut() {
                        rung.decor_mut().set_prefix("\n    ");
                    }
                    chain.set_trailing("\n");
                    chain.set_trailing_comma(true);
                }
                tables.push(table);
            }
            *item = toml_edit::Item::ArrayOfTables(tables);
        }
        doc.to_string().trim_start().to_owned()
    }

    /// Reads a TOML document, for `ladder policy import`. Errors carry the line and column.
    /// The result still needs [`validate`](Self::validate).
    pub fn from_toml(text: &str) -> Result<Policy, PolicyParseError> {
        toml_edit::de::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |span| line_column(text, span.start));
            PolicyParseError {
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Match {
    /// No condition at all.
    pub fn is_any(&self) -> bool {
        *self == Match::default()
    }

    /// Whether a ticket with these facts is one this rule applies to.
    pub fn matches(&self, facts: &Facts) -> bool {
        fn one<T: PartialEq>(list: &[T], v: &T) -> bool {
            list.is_empty() || list.contains(v)
        }
        one(&self.categories, &facts.category)
            && one(&self.priorities, &facts.priority)
            && one(&self.tiers, &facts.tier)
            && one(&self.channels, &facts.channel)
            && (self.triggers.is_empty()
                || facts.triggers.iter().any(|t| self.triggers.contains(t)))
    }

    /// Whether every ticket is matched. A list naming every value is as good as empty, but a
    /// trigger list never is: a ticket may have no trigger at all.
    pub fn matches_every_ticket(&self) -> bool {
        full(&self.categories)
            && full(&self.priorities)
            && full(&self.tiers)
            && full(&self.channels)
            && self.triggers.is_empty()
    }

    /// Whether every ticket `other` matches is also matched by `self`, so that a rule with
    /// `other` placed after one with `self` could never apply.
    pub fn covers(&self, other: &Match) -> bool {
        fn superset<T: PartialEq + IntoEnumIterator>(outer: &[T], inner: &[T]) -> bool {
            full(outer) || (!inner.is_empty() && inner.iter().all(|v| outer.contains(v)))
        }
        let triggers = self.triggers.is_empty()
            || (!other.triggers.is_empty()
                && other.triggers.iter().all(|t| self.triggers.contains(t)));
        superset(&self.categories, &other.categories)
            && superset(&self.priorities, &other.priorities)
            && superset(&self.tiers, &other.tiers)
            && superset(&self.channels, &other.channels)
            && triggers
    }
}

/// An empty list, or one naming every value of its vocabulary.
fn full<T: PartialEq + IntoEnumIterator>(list: &[T]) -> bool {
    list.is_empty() || T::iter().all(|v| list.contains(&v))
}

/// A problem in a policy, in words a tenant admin can act on. Rungs count from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("rule {rule:?}, rung {rung}: unknown user {user:?}", user = user.as_str())]
    UnknownUser {
        rule: String,
        rung: usize,
        user: UserId,
    },
    #[error("rule {rule:?}, rung {rung}: unknown team {team:?}", team = team.as_str())]
    UnknownTeam {
        rule: String,
        rung: usize,
        team: TeamId,
    },
    #[error("rule {rule:?}, rung {rung}: the {role} role cannot take escalations (use target kind \"platform\" for platform support)")]
    RoleCannotTake {
        rule: String,
        rung: usize,
        role: Role,
    },
    #[error("rule {rule:?}: the chain is empty; give at least one rung to escalate to")]
    EmptyChain { rule: String },
    #[error("rule {rule:?}: unknown calendar {calendar:?}")]
    UnknownCalendar { rule: String, calendar: String },
    #[error("rule {rule:?}: there is already a rule with this name")]
    DuplicateRule { rule: String },
    #[error("rule {rule:?} can never apply: every ticket it matches is taken by rule {shadowed_by:?} before it")]
    Unreachable { rule: String, shadowed_by: String },
    #[error(
        "no rule applies to every ticket: end the rules with a catch-all rule (one without `when`)"
    )]
    NoCatchAll,
    #[error("rule {rule:?}: remind_at_percent is {percent}; it must be between 1 and 99")]
    RemindAtPercent { rule: String, percent: u8 },
    #[error("currency {0:?} is not a three-letter ISO 4217 code such as \"USD\" or \"EUR\"")]
    Currency(String),
    #[error("authority limit of {role} is {limit}; it cannot be negative")]
    NegativeAuthorityLimit { role: Role, limit: i64 },
    #[error("calendar {calendar:?}: {problem}")]
    Calendar {
        calendar: String,
        problem: CalendarError,
    },
    #[error("calendar {0:?}: there is already a calendar with this name")]
    DuplicateCalendar(String),
    #[error("there is no calendar named \"default\", which rules use when they name none")]
    NoDefaultCalendar,
    #[error("metrics.{field} is {value}; it must be from 1 to {max} days")]
    MetricsWindow {
        field: &'static str,
        value: u32,
        max: u32,
    },
    #[error("history.{field} is {value}; it must be at least {min} ({why})")]
    HistoryTooSmall {
        field: &'static str,
        value: u32,
        min: u32,
        why: &'static str,
    },
    #[error("history.{field} is {value}; it must be at most {max}")]
    HistoryTooLarge {
        field: &'static str,
        value: u32,
        max: u32,
    },
}

/// A policy document that does not parse, with where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PolicyParseError {
    /// 1-based; 0 when the parser could not tell.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One rung of a dry run: when it would have to acknowledge before the next rung is called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RungDue {
    pub target: Target,
    #[schema(value_type = String, format = DateTime)]
    pub ack_due: Timestamp,
}

/// A dry run of the policy for one ticket escalated at a given moment, nobody acting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Simulation {
    /// The rule that applies, and its position in the policy.
    pub rule: String,
    pub rule_index: usize,
    /// The calendar its clocks run on.
    pub calendar: String,
    /// Each rung with its acknowledgement deadline; each rung's clock starts when the one
    /// below it runs out.
    pub chain: Vec<RungDue>,
    #[schema(value_type = String, format = DateTime)]
    pub acknowledge_due: Timestamp,
    /// When the holder is reminded that acknowledgement is due.
    #[schema(value_type = String, format = DateTime)]
    pub acknowledge_reminder: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub first_update_due: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub resolve_due: Timestamp,
    /// For a ticket not escalated: when it escalates by itself without a first response.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_response_due: Option<Timestamp>,
}

/// The rule an escalation runs under, and its calendar, as they were when it started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationSnapshot {
    pub policy_version: u32,
    pub rule_index: usize,
    pub rule: Rule,
    pub calendar: BusinessCalendar,
}

impl EscalationSnapshot {
    /// The targets of the chain, lowest rung first.
    pub fn chain(&self) -> Vec<Target> {
        self.rule.chain.iter().map(|r| r.target.clone()).collect()
    }

    /// When rung `rung` (0-based), reached at `from`, must have acknowledged.
    pub fn ack_due(&self, rung: usize, from: Timestamp) -> Option<Timestamp> {
        let step = self.rule.chain.get(rung)?;
        Some(self.calendar.add(from, &step.ack_within))
    }

    /// The SLA's acknowledgement deadline for an escalation made at `from`.
    pub fn acknowledge_due(&self, from: Timestamp) -> Timestamp {
        self.calendar.add(from, &self.rule.sla.acknowledge)
    }

    /// When the next customer update is due, the last one (or the escalation) being at `from`.
    pub fn update_due(&self, from: Timestamp) -> Timestamp {
        self.calendar.add(from, &self.rule.sla.update_every)
    }

    /// The resolution deadline, with the clock stopped while the ticket waits on the
    /// customer; `None` while it still does.
    pub fn resolve_due(
        &self,
        from: Timestamp,
        pauses: &[(Timestamp, Option<Timestamp>)],
    ) -> Option<Timestamp> {
        self.calendar
            .add_with_pauses(from, &self.rule.sla.resolve, pauses)
    }

    /// When a ticket created at `from` escalates by itself for want of a first response.
    pub fn first_response_due(&self, from: Timestamp) -> Option<Timestamp> {
        self.rule
            .first_response_within
            .as_ref()
            .map(|d| self.calendar.add(from, d))
    }

    /// The first reminder for a deadline running from `start` to `due`: `remind_at_percent`
    /// of the way in business time, moved into opening hours (never after `due`).
    pub fn reminder_due(&self, start: Timestamp, due: Timestamp) -> Timestamp {
        let window = self.calendar.business_time_between(start, due);
        if window <= SignedDuration::ZERO {
            return self.calendar.next_reminder_slot(start);
        }
        let percent = i128::from(self.rule.remind_at_percent.clamp(1, 99));
        let nanos = window.as_nanos() * percent / 100;
        let part = SignedDuration::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX));
        self.calendar
            .next_reminder_slot(self.calendar.add_time(start, part))
            .min(due)
    }

    /// The reminder after one sent at `last`: `remind_every` later, in opening hours.
    pub fn next_reminder(&self, last: Timestamp) -> Timestamp {
        self.calendar
            .next_reminder_slot(self.calendar.add(last, &self.rule.remind_every))
    }
}

/// The thresholds of the history triggers: one customer coming back again and again, and
/// many customers reporting the same problem at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryTriggers {
    /// Fires when the customer has this many prior tickets or inbound messages in the window.
    pub repeat_contact: RepeatRule,
    /// Opens one parent incident ticket when this many distinct customers report the same
    /// problem within the window.
    pub many_customers: IncidentRule,
}

impl HistoryTriggers {
    /// Thresholds and windows that would fire on everything or on nothing, or look further
    /// back than anything is kept for (the bounds the document states, `history::LIMITS`).
    fn problems(&self) -> Vec<PolicyError> {
        use crate::triggers::history::LIMITS;
        let values = [
            self.repeat_contact.threshold,
            self.repeat_contact.window_hours,
            self.many_customers.threshold,
            self.many_customers.window_minutes,
        ];
        LIMITS
            .iter()
            .zip(values)
            .filter_map(|(l, value)| {
                if value < l.min {
                    Some(PolicyError::HistoryTooSmall {
                        field: l.field,
                        value,
                        min: l.min,
                        why: l.why,
                    })
                } else if value > l.max {
                    Some(PolicyError::HistoryTooLarge {
                        field: l.field,
                        value,
                        max: l.max,
                    })
                } else {
                    None
                }
            })
            .collect()
    }
}

/// What a customer's email does to their ticket (`[inbound]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InboundSettings {
    /// A customer's reply to a resolved ticket reopens it (the default). Off, the reply is
    /// added to the ticket, which stays resolved for staff to decide; it still counts as the
    /// customer's contact. A closed ticket is never reopened: the reply opens a new one.
    pub reopen_resolved_on_reply: bool,
}

impl Default for InboundSettings {
    fn default() -> Self {
        InboundSettings {
            reopen_resolved_on_reply: true,
        }
    }
}

/// The windows of the escalation metrics (`GET /api/v1/metrics/escalations`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A resolved escalation counts as "resolved without return" unless its ticket is
    /// reopened, or the same customer opens a ticket linked to it or about the same problem,
    /// within this many days of the resolution.
    #[schema(minimum = 1, maximum = 1098)]
    pub return_window_days: u32,
    /// An escalation is a repeat when its ticket, or a ticket linked to it, was escalated
    /// within this many days before.
    #[schema(minimum = 1, maximum = 1098)]
    pub repeat_window_days: u32,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            return_window_days: 14,
            repeat_window_days: 90,
        }
    }
}

impl MetricsSettings {
    /// The longest window either setting may take: a few years of history per escalation
    /// would make every report read all of it.
    pub const MAX_DAYS: u32 = 3 * 366;

    fn problems(&self) -> Vec<PolicyError> {
        [
            ("return_window_days", self.return_window_days),
            ("repeat_window_days", self.repeat_window_days),
        ]
        .into_iter()
        .filter(|(_, v)| !(1..=Self::MAX_DAYS).contains(v))
        .map(|(field, value)| PolicyError::MetricsWindow {
            field,
            value,
            max: Self::MAX_DAYS,
        })
        .collect()
    }
}

/// The category an automatic escalation takes for a trigger kind when the policy names none.
/// (Many customers at once escalates its incident under the incident's own category.)
pub fn default_trigger_category(kind: TriggerKind) -> Category {
    match kind {
        TriggerKind::LegalThreat | TriggerKind::Regulator => Category::Legal,
        TriggerKind::ClinicalDispute => Category::Clinical,
        TriggerKind::SafetyRisk | TriggerKind::Threat => Category::Safety,
        TriggerKind::BillingDispute => Category::Billing,
        _ => Category::Complaint,
    }
}

impl Policy {
    /// The category an automatic escalation for `kind` takes under this policy.
    pub fn trigger_category(&self, kind: TriggerKind) -> Category {
        self.triggers
            .get(&kind)
            .and_then(|s| s.category)
            .unwrap_or_else(|| default_trigger_category(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(category: Category, priority: Priority) -> Facts {
        Facts {
            category,
            priority,
            tier: CustomerTier::Standard,
            triggers: vec![],
            channel: Channel::Email,
        }
    }

    fn d(s: &str) -> BusinessDuration {
        s.parse().expect("test duration parses")
    }

    #[test]
    fn the_default_policy_sends_urgent_and_sensitive_tickets_up_fast_and_catches_everything() {
        let policy = Policy::default();
        assert_eq!(policy.validate(&Directory::default()), Ok(()));
        let name = |f: &Facts| policy.match_rule(f).map(|(i, r)| (i, r.name.as_str()));
        assert_eq!(
            name(&facts(Category::Billing, Priority::Urgent)),
            Some((0, "urgent"))
        );
        assert_eq!(
            name(&facts(Category::Other, Priority::Critical)),
            Some((0, "urgent"))
        );
        assert_eq!(
            name(&facts(Category::Clinical, Priority::Low)),
            Some((1, "sensitive"))
        );
        assert_eq!(
            name(&facts(Category::Legal, Priority::Normal)),
            Some((1, "sensitive"))
        );
        assert_eq!(
            name(&facts(Category::Billing, Priority::High)),
            Some((2, "standard"))
        );
        for category in Category::iter() {
            for priority in Priority::iter() {
                assert!(policy.match_rule(&facts(category, priority)).is_some());
            }
        }
        let urgent = &policy.rules[0];
        assert_eq!(
            urgent
                .chain
                .iter()
                .map(|r| r.target.clone())
                .collect::<Vec<_>>(),
            vec![
                Target::Owner,
                Target::Role { role: Role::Admin },
                Target::Platform
            ]
        );
        assert_eq!(urgent.chain[0].ack_within, d("1h"));
        assert_eq!(
            (
                urgent.sla.acknowledge,
                urgent.sla.update_every,
                urgent.sla.resolve
            ),
            (d("1h"), d("4h"), d("eod"))
        );
        let standard = &policy.rules[2];
        assert_eq!(
            (
                standard.sla.acknowledge,
                standard.sla.update_every,
                standard.sla.resolve
            ),
            (d("1bd"), d("1bd"), d("3bd"))
        );
        assert_eq!(standard.remind_at_percent, 80);
        assert_eq!(
            policy.calendar("default"),
            Some(&BusinessCalendar::default())
        );
        assert_eq!(policy.calendar("berlin"), None);
    }

    #[test]
    fn match_lists_are_any_of_and_all_must_hold() {
        let when = Match {
            tiers: vec![CustomerTier::Vip, CustomerTier::HighValue],
            triggers: vec![TriggerKind::LegalThreat, TriggerKind::Regulator],
            channels: vec![Channel::Phone],
            ..Match::default()
        };
        let mut f = facts(Category::Complaint, Priority::Normal);
        f.channel = Channel::Phone;
        f.tier = CustomerTier::Vip;
        assert!(!when.matches(&f), "no trigger");
        f.triggers = vec![TriggerKind::Anger, TriggerKind::Regulator];
        assert!(when.matches(&f));
        f.channel = Channel::Web;
        assert!(!when.matches(&f), "wrong channel");
    }

    #[test]
    fn an_unlimited_authority_is_null_in_json_and_unlimited_in_toml() {
        let policy = Policy::default();
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(json["authority_limits"]["owner"], serde_json::Value::Null);
        assert_eq!(json["authority_limits"]["admin"], 100_000);
        let toml = policy.to_toml();
        assert!(toml.contains("owner = \"unlimited\""), "{toml}");
        assert_eq!(Policy::from_toml(&toml), Ok(policy.clone()));
        // What was stored before: the owner's limit as the largest integer.
        let old = r#"{"authority_limits":{"owner":9223372036854775807,"agent":5}}"#;
        let read: Policy = serde_json::from_str(old).unwrap();
        assert_eq!(read.authority_limit(Role::Owner), AuthorityLimit::Unlimited);
        assert!(read.authority_limit(Role::Owner).covers(i64::MAX));
        assert!(!read.authority_limit(Role::Agent).covers(6));
        assert!(
            !read.authority_limit(Role::Admin).covers(1),
            "missing grants nothing"
        );
        assert!(
            serde_json::from_str::<Policy>(r#"{"authority_limits":{"owner":"lots"}}"#).is_err()
        );
    }

    #[test]
    fn stored_policies_from_before_the_matrix_still_read() {
        let old = r#"{"currency":"EUR","reply_lock_categories":["legal"],"authority_limits":{"agent":100},"triggers":{}}"#;
        let policy: Policy = serde_json::from_str(old).unwrap();
        assert_eq!(policy.currency, "EUR");
        assert_eq!(policy.rules, Policy::default().rules);
        assert_eq!(
            policy.authority_limit(Role::Agent),
            AuthorityLimit::UpTo(100)
        );
        let json = serde_json::to_string(&Policy::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<Policy>(&json).unwrap(),
            Policy::default()
        );
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("test instant parses")
    }

    fn rule(name: &str, when: Match) -> Rule {
        Rule {
            name: name.to_owned(),
            when,
            ..standard_rule()
        }
    }

    fn messages(policy: &Policy, directory: &Directory) -> Vec<String> {
        match policy.validate(directory) {
            Ok(()) => vec![],
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn validation_names_the_rule_and_rung_of_every_problem() {
        let mut policy = Policy {
            currency: "usd".into(),
            ..Policy::default()
        };
        policy
            .authority_limits
            .insert(Role::Agent, AuthorityLimit::UpTo(-5));
        policy.rules[0].chain[1].target = Target::Team {
            id: TeamId("t_42".into()),
        };
        policy.rules[0].chain[2].target = Target::User {
            id: UserId("u_7".into()),
        };
        policy.rules[0].remind_at_percent = 100;
        policy.rules[1].chain.clear();
        policy.rules[1].calendar = "berlin".into();
        policy.rules[1].name = "urgent".into();
        policy.rules[2].chain[0].target = Target::Role {
            role: Role::Auditor,
        };
        policy.calendars.push(BusinessCalendar {
            time_zone: "Mars/Olympus".into(),
            ..BusinessCalendar::default()
        });
        assert_eq!(messages(&policy, &Directory::default()), vec![
            "currency \"usd\" is not a three-letter ISO 4217 code such as \"USD\" or \"EUR\"",
            "authority limit of agent is -5; it cannot be negative",
            "calendar \"default\": there is already a calendar with this name",
            "calendar \"default\": unknown time zone \"Mars/Olympus\": use an IANA name such as \"Europe/Berlin\" or \"UTC\"",
            "rule \"urgent\": remind_at_percent is 100; it must be between 1 and 99",
            "rule \"urgent\", rung 2: unknown team \"t_42\"",
            "rule \"urgent\", rung 3: unknown user \"u_7\"",
            "rule \"urgent\": there is already a rule with this name",
            "rule \"urgent\": unknown calendar \"berlin\"",
            "rule \"urgent\": the chain is empty; give at least one rung to escalate to",
            "rule \"standard\", rung 1: the auditor role cannot take escalations (use target kind \"platform\" for platform support)",
        ]);
        let directory = Directory {
            users: BTreeSet::from([UserId("u_7".into())]),
            teams: BTreeSet::from([TeamId("t_42".into())]),
        };
        assert!(!messages(&policy, &directory)
            .iter()
            .any(|m| m.contains("unknown team") || m.contains("unknown user")));
    }

    #[test]
    fn rules_that_can_never_apply_are_refused() {
        let vip = Match {
            tiers: vec![CustomerTier::Vip],
            ..Match::default()
        };
        let vip_phone = Match {
            channels: vec![Channel::Phone],
            ..vip.clone()
        };
        let legal = Match {
            triggers: vec![TriggerKind::LegalThreat],
            ..Match::default()
        };
        let legal_or_threat = Match {
            triggers: vec![TriggerKind::LegalThreat, TriggerKind::Threat],
            ..Match::default()
        };
        let every_priority = Match {
            priorities: Priority::iter().collect(),
            ..Match::default()
        };
        let cases: Vec<(Vec<Rule>, Vec<&str>)> = vec![
            (vec![rule("vip", vip.clone()), rule("vip-phone", vip_phone.clone()), rule("rest", Match::default())], vec![
                "rule \"vip-phone\" can never apply: every ticket it matches is taken by rule \"vip\" before it",
            ]),
            (vec![rule("vip-phone", vip_phone), rule("vip", vip.clone()), rule("rest", Match::default())], vec![]),
            (vec![rule("all", Match::default()), rule("vip", vip.clone())], vec![
                "rule \"vip\" can never apply: every ticket it matches is taken by rule \"all\" before it",
                "no rule applies to every ticket: end the rules with a catch-all rule (one without `when`)",
            ]),
            (vec![rule("any-priority", every_priority.clone()), rule("vip", vip.clone())], vec![
                "rule \"vip\" can never apply: every ticket it matches is taken by rule \"any-priority\" before it",
                "no rule applies to every ticket: end the rules with a catch-all rule (one without `when`)",
            ]),
            (vec![rule("vip", vip.clone()), rule("any-priority", every_priority)], vec![]),
            (vec![rule("legal", legal.clone()), rule("legal-or-threat", legal_or_threat.clone()), rule("rest", Match::default())], vec![]),
            (vec![rule("legal-or-threat", legal_or_threat), rule("legal", legal.clone()), rule("rest", Match::default())], vec![
                "rule \"legal\" can never apply: every ticket it matches is taken by rule \"legal-or-threat\" before it",
            ]),
            // A trigger list leaves out tickets with no trigger: it is never a catch-all.
            (vec![rule("vip", vip), rule("legal", legal)], vec![
                "no rule applies to every ticket: end the rules with a catch-all rule (one without `when`)",
            ]),
            (vec![], vec!["no rule applies to every ticket: end the rules with a catch-all rule (one without `when`)"]),
        ];
        for (rules, want) in cases {
            let names: Vec<_> = rules.iter().map(|r| r.name.clone()).collect();
            let policy = Policy {
                rules,
                ..Policy::default()
            };
            assert_eq!(messages(&policy, &Directory::default()), want, "{names:?}");
        }
    }

    fn rich_policy() -> Policy {
        let berlin = BusinessCalendar::new(
            "berlin",
            "Europe/Berlin",
            crate::calendar::WeekHours::weekdays(&[
                "08:00-12:00".parse().unwrap(),
                "13:00-18:00".parse().unwrap(),
            ])
            .unwrap()
            .with_day(
                jiff::civil::Weekday::Saturday,
                vec!["10:00-14:00".parse().unwrap()],
            )
            .unwrap(),
            vec![
                jiff::civil::date(2025, 12, 25),
                jiff::civil::date(2025, 12, 26),
            ],
        )
        .unwrap();
        let mut policy = Policy {
            version: 7,
            currency: "EUR".into(),
            ..Policy::default()
        };
        policy
            .triggers
            .get_mut(&TriggerKind::LegalThreat)
            .unwrap()
            .mode = TriggerMode::Auto;
        policy
            .triggers
            .get_mut(&TriggerKind::Anger)
            .unwrap()
            .extra_phrases = vec!["\"fed up\"".into(), "ünfair".into()];
        policy
            .triggers
            .get_mut(&TriggerKind::Threat)
            .unwrap()
            .category = Some(Category::Complaint);
        policy.history.repeat_contact.threshold = 2;
        policy.history.many_customers = IncidentRule {
            threshold: 12,
            window_minutes: 30,
        };
        policy.calendars.push(berlin);
        policy.rules.insert(
            0,
            Rule {
                name: "vip legal, Berlin".into(),
                calendar: "berlin".into(),
                first_response_within: Some(d("15m")),
                reescalate_on_breach: true,
                remind_at_percent: 50,
                remind_every: d("2h30m"),
                when: Match {
                    categories: vec![Category::Legal],
                    priorities: vec![Priority::High, Priority::Urgent],
                    tiers: vec![CustomerTier::Vip],
                    triggers: vec![TriggerKind::LegalThreat, TriggerKind::Regulator],
                    channels: vec![Channel::Phone, Channel::Email],
                },
                sla: Sla {
                    acknowledge: d("30m"),
                    update_every: d("2bd"),
                    resolve: d("10bd"),
                },
                chain: vec![
                    Rung {
                        target: Target::User {
                            id: UserId("u_1".into()),
                        },
                        ack_within: d("15m"),
                    },
                    Rung {
                        target: Target::Team {
                            id: TeamId("t_legal".into()),
                        },
                        ack_within: d("1h"),
                    },
                    Rung {
                        target: Target::Owner,
                        ack_within: d("eod"),
                    },
                ],
            },
        );
        policy
    }

    #[test]
    fn policies_survive_export_and_import_as_toml() {
        for policy in [Policy::default(), rich_policy()] {
            let text = policy.to_toml();
            assert_eq!(Policy::from_toml(&text), Ok(policy.clone()), "{text}");
        }
        let text = rich_policy().to_toml();
        assert!(
            text.starts_with("version = 7\ncurrency = \"EUR\"\n"),
            "{text}"
        );
        assert!(text.contains("name = \"vip legal, Berlin\""), "{text}");
        assert!(text.contains(
            "\nsla = { acknowledge = \"30m\", update_every = \"2bd\", resolve = \"10bd\" }\n"
        ));
        assert!(text.contains(
            "chain = [\n    { target = { kind = \"user\", id = \"u_1\" }, ack_within = \"15m\" },\n"
        ));
        assert!(
            text.contains("hours = { mon = [\"08:00-12:00\", \"13:00-18:00\"],"),
            "{text}"
        );
        // Empty lists stay empty rather than falling back to the defaults.
        let bare = Policy {
            calendars: vec![],
            rules: vec![],
            ..Policy::default()
        };
        assert_eq!(Policy::from_toml(&bare.to_toml()), Ok(bare));
    }

    #[test]
    fn history_thresholds_export_as_their_own_section() {
        let text = rich_policy().to_toml();
        assert!(
            text.contains("\n[history]\nrepeat_contact = { threshold = 2, window_hours = 720 }\nmany_customers = { threshold = 12, window_minutes = 30 }\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "threat = { mode = \"suggest\", extra_phrases = [], category = \"complaint\" }"
            ),
            "{text}"
        );
        // A hand-written section may give only what differs from the defaults.
        let policy = Policy::from_toml("[history]\nmany_customers = { threshold = 8 }\n").unwrap();
        assert_eq!(
            policy.history.many_customers,
            IncidentRule {
                threshold: 8,
                window_minutes: 60
            }
        );
        assert_eq!(policy.history.repeat_contact, RepeatRule::default());
        let err =
            Policy::from_toml("[history]\nrepeat_contacts = { threshold = 8 }\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("repeat_contacts"), "{err}");
    }

    #[test]
    fn stored_policies_from_before_history_triggers_read_with_the_defaults() {
        let old =
            r#"{"currency":"EUR","triggers":{"legal_threat":{"mode":"auto","extra_phrases":[]}}}"#;
        let policy: Policy = serde_json::from_str(old).unwrap();
        assert_eq!(policy.history, HistoryTriggers::default());
        assert_eq!(
            (
                policy.history.repeat_contact.threshold,
                policy.history.many_customers.threshold
            ),
            (3, 5)
        );
        assert_eq!(policy.triggers[&TriggerKind::LegalThreat].category, None);
        assert_eq!(
            policy.trigger_category(TriggerKind::LegalThreat),
            Category::Legal
        );
    }

    #[test]
    fn an_automatic_escalation_takes_the_category_the_tenant_chose() {
        let mut policy = Policy::default();
        let builtin = [
            (TriggerKind::LegalThreat, Category::Legal),
            (TriggerKind::Regulator, Category::Legal),
            (TriggerKind::ClinicalDispute, Category::Clinical),
            (TriggerKind::Threat, Category::Safety),
            (TriggerKind::SafetyRisk, Category::Safety),
            (TriggerKind::BillingDispute, Category::Billing),
            (TriggerKind::Anger, Category::Complaint),
            (TriggerKind::RepeatContact, Category::Complaint),
            (TriggerKind::HighValueCustomer, Category::Complaint),
        ];
        for (kind, category) in builtin {
            assert_eq!(policy.trigger_category(kind), category, "{kind}");
        }
        policy
            .triggers
            .get_mut(&TriggerKind::Regulator)
            .unwrap()
            .category = Some(Category::Complaint);
        policy
            .triggers
            .entry(TriggerKind::HighValueCustomer)
            .or_default()
            .category = Some(Category::Billing);
        assert_eq!(
            policy.trigger_category(TriggerKind::Regulator),
            Category::Complaint
        );
        assert_eq!(
            policy.trigger_category(TriggerKind::HighValueCustomer),
            Category::Billing
        );
        assert_eq!(
            policy.trigger_category(TriggerKind::LegalThreat),
            Category::Legal
        );
    }

    #[test]
    fn replies_reopen_resolved_tickets_unless_switched_off() {
        let policy = Policy::default();
        assert!(policy.inbound.reopen_resolved_on_reply);
        let text = policy.to_toml();
        assert!(
            text.contains("\n[inbound]\nreopen_resolved_on_reply = true\n"),
            "{text}"
        );
        assert_eq!(Policy::from_toml(&text).unwrap(), policy);
        let off = Policy::from_toml("[inbound]\nreopen_resolved_on_reply = false\n").unwrap();
        assert!(!off.inbound.reopen_resolved_on_reply);
        assert!(Policy::from_toml("[inbound]\nreopen = false\n").is_err());
    }

    #[test]
    fn metrics_windows_default_round_trip_and_are_bounded() {
        let policy = Policy::default();
        assert_eq!(policy.metrics.return_window_days, 14);
        assert_eq!(policy.metrics.repeat_window_days, 90);
        let text = policy.to_toml();
        assert!(
            text.contains("\n[metrics]\nreturn_window_days = 14\nrepeat_window_days = 90\n"),
            "{text}"
        );
        assert_eq!(Policy::from_toml(&text).unwrap(), policy);
        let read = Policy::from_toml("[metrics]\nreturn_window_days = 7\n").unwrap();
        assert_eq!(read.metrics.return_window_days, 7);
        assert_eq!(read.metrics.repeat_window_days, 90);
        assert!(Policy::from_toml("[metrics]\nreturn_days = 7\n").is_err());
        let mut bad = Policy::default();
        bad.metrics.return_window_days = 0;
        bad.metrics.repeat_window_days = 5000;
        assert_eq!(
            messages(&bad, &Directory::default()),
            vec![
                "metrics.return_window_days is 0; it must be from 1 to 1098 days",
                "metrics.repeat_window_days is 5000; it must be from 1 to 1098 days",
            ]
        );
    }

    #[test]
    fn history_thresholds_that_fire_on_everything_or_nothing_are_refused() {
        let mut policy = Policy::default();
        policy.history.repeat_contact = RepeatRule {
            threshold: 0,
            window_hours: 0,
        };
        policy.history.many_customers = IncidentRule {
            threshold: 1,
            window_minutes: 0,
        };
        assert_eq!(messages(&policy, &Directory::default()), vec![
            "history.repeat_contact.threshold is 0; it must be at least 1 (zero would flag every ticket)",
            "history.repeat_contact.window_hours is 0; it must be at least 1 (an empty window never sees a prior contact)",
            "history.many_customers.threshold is 1; it must be at least 2 (one customer is not many)",
            "history.many_customers.window_minutes is 0; it must be at least 1 (an empty window never sees two customers)",
        ]);
        policy.history.repeat_contact = RepeatRule {
            threshold: 1,
            window_hours: 1,
        };
        policy.history.many_customers = IncidentRule {
            threshold: 2,
            window_minutes: 1,
        };
        assert_eq!(
            messages(&policy, &Directory::default()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_hand_written_policy_reads_with_defaults_filled_in() {
        let policy = Policy::from_toml(
            r#"
            currency = "GBP"

            [[calendars]]
            name = "default"
            time_zone = "Europe/London"
            hours = { mon = ["09:00-17:30"], tue = ["09:00-17:30"], wed = ["09:00-17:30"], thu = ["09:00-17:30"], fri = ["09:00-16:00"] }
            holidays = ["2025-12-25", "2025-12-26"]

            [[rules]]
            name = "clinical"
            when = { categories = ["clinical"] }
            sla = { acknowledge = "30m", update_every = "2h", resolve = "eod" }
            chain = [
                { target = { kind = "owner" }, ack_within = "30m" },
                { target = { kind = "platform" }, ack_within = "1h" },
            ]

            [[rules]]
            name = "everything else"
            sla = { acknowledge = "1bd", update_every = "1bd", resolve = "3bd" }
            chain = [{ target = { kind = "role", role = "admin" }, ack_within = "1bd" }]
            "#,
        )
        .unwrap();
        assert_eq!(policy.validate(&Directory::default()), Ok(()));
        assert_eq!(policy.version, 0);
        assert_eq!(policy.rules[0].calendar, "default");
        assert_eq!(policy.rules[0].remind_at_percent, 80);
        assert_eq!(policy.rules[0].first_response_within, None);
        assert_eq!(policy.authority_limits, Policy::default().authority_limits);
        let (_, rule) = policy
            .match_rule(&facts(Category::Clinical, Priority::Low))
            .unwrap();
        assert_eq!(rule.chain[1].target, Target::Platform);
    }

    #[test]
    fn import_errors_say_where() {
        let cases = [
            ("[[rules]]\nname = \"x\"\nsla = { acknowledge = \"0m\", update_every = \"1h\", resolve = \"1h\" }\nchain = []\n", 3, "longer than zero"),
            ("currency = \"EUR\"\n[[rules]]\nname = \"x\"\nremind_at_precent = 50\n", 4, "remind_at_precent"),
            ("currency = \"EUR\"\n\n[[calendars]]\nname = \"default\"\ntime_zone = \"UTC\"\nhours = { mon = [\"17:00-09:00\"] }\n", 6, "night shift"),
            ("reply_lock_categories = [\"legal\", \"shouting\"]\n", 1, "shouting"),
            ("currency = \n", 1, ""),
        ];
        for (text, line, needle) in cases {
            let err = Policy::from_toml(text).unwrap_err();
            assert_eq!(err.line, line, "{err}");
            assert!(err.column > 0, "{err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("line {line}, column ")),
                "{err}"
            );
            assert!(err.message.contains(needle), "{err}");
        }
    }

    #[test]
    fn a_dry_run_shows_each_rung_and_deadline_in_business_time() {
        let policy = Policy::default();
        let mut ticket = facts(Category::Billing, Priority::Urgent);
        // Friday 16:30 UTC: half an hour of the business day left.
        let sim = policy
            .simulate(&ticket, at("2025-06-06T16:30:00Z"))
            .unwrap();
        assert_eq!(
            (sim.rule.as_str(), sim.rule_index, sim.calendar.as_str()),
            ("urgent", 0, "default")
        );
        let rungs: Vec<_> = sim
            .chain
            .iter()
            .map(|r| (r.target.kind().as_str(), r.ack_due.to_string()))
            .collect();
        assert_eq!(
            rungs,
            vec![
                ("owner", "2025-06-09T09:30:00Z".to_owned()),
                ("role", "2025-06-09T10:30:00Z".to_owned()),
                ("platform", "2025-06-09T11:30:00Z".to_owned()),
            ]
        );
        assert_eq!(sim.acknowledge_due, at("2025-06-09T09:30:00Z"));
        assert_eq!(sim.acknowledge_reminder, at("2025-06-09T09:18:00Z"));
        assert_eq!(sim.first_update_due, at("2025-06-09T12:30:00Z"));
        assert_eq!(sim.resolve_due, at("2025-06-06T17:00:00Z"));
        assert_eq!(sim.first_response_due, Some(at("2025-06-09T09:30:00Z")));

        ticket.priority = Priority::Normal;
        let sim = policy
            .simulate(&ticket, at("2025-06-06T16:30:00Z"))
            .unwrap();
        assert_eq!(sim.rule, "standard");
        assert_eq!(sim.chain[2].ack_due, at("2025-06-11T16:30:00Z"));
        assert_eq!(sim.resolve_due, at("2025-06-11T16:30:00Z"));
        assert_eq!(sim.first_response_due, None);
        let json = serde_json::to_value(&sim).unwrap();
        assert_eq!(json["resolve_due"], "2025-06-11T16:30:00Z");
        assert_eq!(
            json["chain"][1]["target"],
            serde_json::json!({"kind": "role", "role": "admin"})
        );

        let no_catch_all = Policy {
            rules: vec![rule(
                "vip",
                Match {
                    tiers: vec![CustomerTier::Vip],
                    ..Match::default()
                },
            )],
            ..Policy::default()
        };
        assert_eq!(
            no_catch_all.simulate(&ticket, at("2025-06-06T16:30:00Z")),
            None
        );
    }

    #[test]
    fn a_running_escalation_keeps_the_rule_it_started_with() {
        let mut policy = rich_policy();
        let snap = policy.snapshot(0).unwrap();
        assert_eq!(policy.snapshot(99), None);
        // Edits after the escalation started change nothing for it.
        policy.rules[0].sla.resolve = d("1h");
        policy.calendars[1].holidays.clear();
        policy.rules.remove(0);
        let stored: EscalationSnapshot =
            serde_json::from_value(serde_json::to_value(&snap).unwrap()).unwrap();
        assert_eq!(stored, snap);
        assert_eq!(stored.policy_version, 7);
        assert_eq!(stored.calendar.name, "berlin");

        // Wednesday 24 December 2025, 11:00 in Berlin. Christmas is closed, Saturdays open
        // 10:00-14:00, and 1 January is a working day in this calendar.
        let from = at("2025-12-24T10:00:00Z");
        assert_eq!(stored.ack_due(0, from), Some(at("2025-12-24T10:15:00Z")));
        assert_eq!(stored.ack_due(2, from), Some(at("2025-12-24T17:00:00Z")));
        assert_eq!(stored.ack_due(3, from), None);
        assert_eq!(stored.update_due(from), at("2025-12-29T10:00:00Z"));
        assert_eq!(
            stored.resolve_due(from, &[]),
            Some(at("2026-01-07T10:00:00Z"))
        );
        // Waiting on the customer for two business hours pushes resolution by two business
        // hours, across the lunch break.
        let pending = [(at("2025-12-29T08:00:00Z"), Some(at("2025-12-29T10:00:00Z")))];
        assert_eq!(
            stored.resolve_due(from, &pending),
            Some(at("2026-01-07T13:00:00Z"))
        );
        assert_eq!(
            stored.resolve_due(from, &[(at("2025-12-29T08:00:00Z"), None)]),
            None
        );
        assert_eq!(
            stored.first_response_due(from),
            Some(at("2025-12-24T10:15:00Z"))
        );
        assert_eq!(
            stored.chain()[1],
            Target::Team {
                id: TeamId("t_legal".into())
            }
        );
    }

    #[test]
    fn reminders_come_before_the_deadline_and_in_opening_hours() {
        let snap = Policy::default().snapshot(2).unwrap();
        let start = at("2025-06-02T09:00:00Z");
        let due = snap.acknowledge_due(start);
        assert_eq!(due, at("2025-06-03T09:00:00Z"));
        // 80% of eight business hours is 6h24m.
        assert_eq!(snap.reminder_due(start, due), at("2025-06-02T15:24:00Z"));
        // A reminder that would fall at the close goes out at the next opening.
        let mut half = snap.clone();
        half.rule.remind_at_percent = 50;
        let start = at("2025-06-02T13:00:00Z");
        assert_eq!(
            half.reminder_due(start, half.calendar.add(start, &d("8h"))),
            at("2025-06-03T09:00:00Z")
        );
        // Then every four business hours, skipping the night.
        assert_eq!(
            snap.next_reminder(at("2025-06-03T15:00:00Z")),
            at("2025-06-04T11:00:00Z")
        );
        assert_eq!(
            snap.next_reminder(at("2025-06-07T03:00:00Z")),
            at("2025-06-09T13:00:00Z")
        );
    }

    // ---- generated policies -----------------------------------------------------------------

    fn any_duration() -> impl Strategy<Value = BusinessDuration> {
        prop_oneof![
            (1u32..100_000).prop_map(|m| BusinessDuration::minutes(m).unwrap()),
            (1u16..60).prop_map(|n| BusinessDuration::days(n).unwrap()),
            Just(BusinessDuration::EndOfDay),
        ]
    }

    fn any_target() -> impl Strategy<Value = Target> {
        prop_oneof![
            Just(Target::Owner),
            Just(Target::Platform),
            "[a-z0-9_]{1,8}".prop_map(|id| Target::User { id: UserId(id) }),
            "[a-z0-9_]{1,8}".prop_map(|id| Target::Team { id: TeamId(id) }),
            proptest::sample::select(Role::iter().collect::<Vec<_>>())
                .prop_map(|role| Target::Role { role }),
        ]
    }

    fn subset<T: IntoEnumIterator + Clone + std::fmt::Debug + 'static>(
    ) -> impl Strategy<Value = Vec<T>> {
        proptest::sample::subsequence(T::iter().collect::<Vec<_>>(), 0..3)
    }

    fn any_rule() -> impl Strategy<Value = Rule> {
        (
            ".{0,12}",
            prop_oneof![Just("default".to_owned()), Just("berlin".to_owned())],
            proptest::option::of(any_duration()),
            any::<bool>(),
            1u8..100,
            any_duration(),
            (subset(), subset(), subset(), subset(), subset()),
            (any_duration(), any_duration(), any_duration()),
            proptest::collection::vec((any_target(), any_duration()), 0..4),
        )
            .prop_map(
                |(name, calendar, first, reescalate, percent, every, when, sla, chain)| Rule {
                    name,
                    calendar,
                    first_response_within: first,
                    reescalate_on_breach: reescalate,
                    remind_at_percent: percent,
                    remind_every: every,
                    when: Match {
                        categories: when.0,
                        priorities: when.1,
                        tiers: when.2,
                        triggers: when.3,
                        channels: when.4,
                    },
                    sla: Sla {
                        acknowledge: sla.0,
                        update_every: sla.1,
                        resolve: sla.2,
                    },
                    chain: chain
                        .into_iter()
                        .map(|(target, ack_within)| Rung { target, ack_within })
                        .collect(),
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_policy_survives_toml_and_json(
            version in any::<u32>(),
            currency in "[A-Z]{3}",
            limits in proptest::collection::btree_map(
                proptest::sample::select(Role::iter().collect::<Vec<_>>()),
                prop_oneof![
                    (i64::MIN..i64::MAX).prop_map(AuthorityLimit::UpTo),
                    Just(AuthorityLimit::Unlimited),
                ],
                0..4,
            ),
            rules in proptest::collection::vec(any_rule(), 0..5),
            history in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            category in proptest::option::of(proptest::sample::select(Category::iter().collect::<Vec<_>>())),
        ) {
            let mut policy = rich_policy();
            policy.history = HistoryTriggers {
                repeat_contact: RepeatRule { threshold: history.0, window_hours: history.1 },
                many_customers: IncidentRule { threshold: history.2, window_minutes: history.3 },
            };
            policy.triggers.entry(TriggerKind::ManyCustomers).or_default().category = category;
            policy.version = version;
            policy.currency = currency;
            policy.authority_limits = limits;
            policy.rules.extend(rules);
            prop_assert_eq!(Policy::from_toml(&policy.to_toml()), Ok(policy.clone()));
            let json = serde_json::to_string(&policy).unwrap();
            prop_assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
        }

        /// Whatever a file holds, reading it answers (a policy or an error), never a panic:
        /// any text, and a valid policy file with a stretch of it replaced by anything.
        #[test]
        fn any_text_read_as_a_policy_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            cut in any::<proptest::sample::Index>(),
            len in 0usize..40,
            splice in "(?s).{0,40}",
        ) {
            let _ = Policy::from_toml(&String::from_utf8_lossy(&bytes));
            let mut text = rich_policy().to_toml();
            let mut at = cut.index(text.len().max(1));
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(at..end, &splice);
            if let Ok(policy) = Policy::from_toml(&text) {
                // What parses writes back to a file that reads as the same policy.
                prop_assert_eq!(Policy::from_toml(&policy.to_toml()), Ok(policy));
            }
        }
    }
}
