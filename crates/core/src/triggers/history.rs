//! Triggers that come from history rather than from one message: the same customer coming
//! back again and again, and many customers reporting the same problem at once.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Category;

/// When repeated contacts by one customer become a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RepeatRule {
    /// How many prior contacts within the window fire the trigger.
    #[schema(minimum = 1, maximum = 1000)]
    pub threshold: u32,
    #[schema(minimum = 1, maximum = 26352)]
    pub window_hours: u32,
}

/// The range a history setting must be in, as the policy's validation and the document
/// state it (keep the `#[schema]` bounds on the fields equal to these).
pub struct Limit {
    pub field: &'static str,
    pub min: u32,
    pub max: u32,
    pub why: &'static str,
}

/// Repeat contact's threshold and window, then many customers' (three years of hours,
/// thirty days of minutes).
pub const LIMITS: [Limit; 4] = [
    Limit {
        field: "repeat_contact.threshold",
        min: 1,
        max: 1000,
        why: "zero would flag every ticket",
    },
    Limit {
        field: "repeat_contact.window_hours",
        min: 1,
        max: 26352,
        why: "an empty window never sees a prior contact",
    },
    Limit {
        field: "many_customers.threshold",
        min: 2,
        max: 1000,
        why: "one customer is not many",
    },
    Limit {
        field: "many_customers.window_minutes",
        min: 1,
        max: 43200,
        why: "an empty window never sees two customers",
    },
];

impl Default for RepeatRule {
    fn default() -> Self {
        RepeatRule {
            threshold: 3,
            window_hours: 720,
        }
    }
}

/// The number of the customer's prior `contacts` within the rule's window before `now`,
/// when it reaches the threshold. Contacts after `now` are ignored.
pub fn repeat_contact(contacts: &[Timestamp], now: Timestamp, rule: &RepeatRule) -> Option<u32> {
    let window = SignedDuration::from_hours(i64::from(rule.window_hours));
    let since = now.checked_sub(window).unwrap_or(Timestamp::MIN);
    let count = contacts
        .iter()
        .filter(|t| **t >= since && **t <= now)
        .count();
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    (rule.threshold > 0 && count >= rule.threshold).then_some(count)
}

/// `prior` contacts (as counted, perhaps only up to some bound at or above the threshold),
/// when they reach the rule's threshold.
pub fn repeat_reached(prior: u32, rule: &RepeatRule) -> Option<u32> {
    (rule.threshold > 0 && prior >= rule.threshold).then_some(prior)
}

/// When the same problem reported by many customers becomes an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct IncidentRule {
    /// How many distinct customers with the same key within the window fire the trigger.
    #[schema(minimum = 2, maximum = 1000)]
    pub threshold: u32,
    #[schema(minimum = 1, maximum = 43200)]
    pub window_minutes: u32,
}

impl Default for IncidentRule {
    fn default() -> Self {
        IncidentRule {
            threshold: 5,
            window_minutes: 60,
        }
    }
}

/// The number of distinct customers among `reports` (customer, when) within the rule's
/// window before `now`, when it reaches the threshold. One customer writing five times is a
/// repeat contact, not an incident, so each customer counts once.
pub fn many_customers<C: Ord>(
    reports: &[(C, Timestamp)],
    now: Timestamp,
    rule: &IncidentRule,
) -> Option<u32> {
    let window = SignedDuration::from_mins(i64::from(rule.window_minutes));
    let since = now.checked_sub(window).unwrap_or(Timestamp::MIN);
    let customers: std::collections::BTreeSet<&C> = reports
        .iter()
        .filter(|(_, t)| *t >= since && *t <= now)
        .map(|(c, _)| c)
        .collect();
    let count = u32::try_from(customers.len()).unwrap_or(u32::MAX);
    (rule.threshold > 0 && count >= rule.threshold).then_some(count)
}

/// `customers` distinct reporters (as counted, perhaps only up to the threshold), when they
/// reach the rule's threshold.
pub fn incident_reached(customers: u32, rule: &IncidentRule) -> Option<u32> {
    (rule.threshold > 0 && customers >= rule.threshold).then_some(customers)
}

/// The incident key of a message when it says enough to group on: at least two content
/// words. "Hello" or "Question" alone would lump unrelated tickets together.
pub fn grouping_key(category: Category, text: &str) -> Option<String> {
    let key = incident_key(category, text);
    let words = key.split_once(':').map_or("", |(_, w)| w);
    (words.split('+').filter(|w| !w.is_empty()).count() >= 2).then_some(key)
}

/// How many content words make up an incident key.
const KEY_WORDS: usize = 3;

/// Words that say nothing about which problem it is.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "cannot",
    "cant",
    "could",
    "did",
    "didnt",
    "do",
    "does",
    "doesnt",
    "dont",
    "for",
    "from",
    "get",
    "got",
    "guys",
    "had",
    "has",
    "have",
    "hello",
    "help",
    "hey",
    "hi",
    "how",
    "i",
    "im",
    "in",
    "is",
    "isnt",
    "it",
    "its",
    "ive",
    "just",
    "me",
    "my",
    "no",
    "not",
    "now",
    "of",
    "on",
    "or",
    "our",
    "please",
    "pls",
    "problem",
    "issue",
    "so",
    "some",
    "still",
    "thanks",
    "thank",
    "that",
    "the",
    "there",
    "this",
    "to",
    "today",
    "u",
    "up",
    "us",
    "was",
    "we",
    "were",
    "what",
    "when",
    "why",
    "will",
    "with",
    "wont",
    "you",
    "your",
    "yours",
    "team",
    "seems",
    "seem",
    "again",
    "anymore",
    "keep",
    "keeps",
    "right",
    "very",
    "really",
    "able",
    "unable",
    "working",
    "work",
    "works",
    "happening",
    "going",
    "any",
    "else",
    "other",
];

/// A stable grouping key for a customer's message: the category plus the few most
/// distinctive content words, stemmed and sorted, so that two customers describing the same
/// outage in different words get the same key.
pub fn incident_key(category: Category, text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’') {
        let folded = fold(raw);
        if folded.len() < 3
            || STOP_WORDS.contains(&folded.as_str())
            || folded.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let stem = stem(&folded);
        if !STOP_WORDS.contains(&stem.as_str()) && !words.contains(&stem) {
            words.push(stem);
        }
    }
    // Longer words are rarer and say more about the problem; ties broken alphabetically.
    words.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    words.truncate(KEY_WORDS);
    words.sort();
    format!("{}:{}", category.as_str(), words.join("+"))
}

/// Lowercase ASCII without accents or apostrophes ("Can’t" → "cant").
fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        unicode_normalization::char::decompose_canonical(c, |d| {
            if d.is_alphanumeric()
                && (d.is_ascii() || !unicode_normalization::char::is_combining_mark(d))
            {
                out.push(d);
            }
        });
    }
    out
}

/// A crude English stemmer: enough to make "booking", "books" and "booked" meet.
fn stem(word: &str) -> String {
    let n = word.len();
    let cut = if n > 5 && word.ends_with("ies") {
        return format!("{}y", &word[..n - 3]);
    } else if n > 5
        && ["shes", "ches", "xes", "sses"]
            .iter()
            .any(|s| word.ends_with(s))
    {
        2
    } else if n > 5 && word.ends_with("ing") {
        3
    } else if n > 4 && (word.ends_with("ed") || word.ends_with("ly")) {
        2
    } else if n > 3 && word.ends_with('s') && !word.ends_with("ss") {
        1
    } else {
        0
    };
    word[..n - cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `#[schema]` bounds of each history setting, as the document states them.
    fn documented(
        schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        field: &str,
    ) -> (String, String) {
        use utoipa::openapi::{schema::Schema, RefOr};
        let RefOr::T(Schema::Object(o)) = schema else {
            panic!("an object schema")
        };
        let Some(RefOr::T(Schema::Object(f))) = o.properties.get(field) else {
            panic!("{field}")
        };
        let show = |n: &Option<utoipa::Number>| match n {
            Some(utoipa::Number::Int(i)) => i.to_string(),
            Some(utoipa::Number::UInt(u)) => u.to_string(),
            Some(utoipa::Number::Float(f)) => f.to_string(),
            None => "none".to_owned(),
        };
        (show(&f.minimum), show(&f.maximum))
    }

    #[test]
    fn the_document_states_the_limits_the_policy_checks() {
        use utoipa::PartialSchema;
        let fields = [
            documented(RepeatRule::schema(), "threshold"),
            documented(RepeatRule::schema(), "window_hours"),
            documented(IncidentRule::schema(), "threshold"),
            documented(IncidentRule::schema(), "window_minutes"),
        ];
        for (limit, (min, max)) in LIMITS.iter().zip(fields) {
            assert_eq!(
                (min, max),
                (limit.min.to_string(), limit.max.to_string()),
                "{}",
                limit.field
            );
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    #[test]
    fn repeat_contact_counts_prior_contacts_in_the_window() {
        let now = at("2025-06-30T12:00:00Z");
        let rule = RepeatRule::default();
        let contacts = [
            at("2025-06-01T12:00:00Z"),
            at("2025-06-10T09:00:00Z"),
            at("2025-06-29T08:00:00Z"),
        ];
        let old = at("2025-05-01T00:00:00Z");
        let future = at("2025-07-01T00:00:00Z");
        let cases: [(&[Timestamp], Option<u32>); 4] = [
            (&contacts, Some(3)),
            (&contacts[1..], None),
            (&[contacts[0], contacts[1], old, future], None),
            (&[contacts[0], contacts[1], contacts[2], old], Some(3)),
        ];
        for (given, expected) in cases {
            assert_eq!(repeat_contact(given, now, &rule), expected, "{given:?}");
        }
        let tight = RepeatRule {
            threshold: 1,
            window_hours: 48,
        };
        assert_eq!(repeat_contact(&contacts, now, &tight), Some(1));
    }

    #[test]
    fn same_problem_in_other_words_gets_the_same_key() {
        let same = [
            (
                "Online booking page is down, can't book",
                "can't book online, the booking page is down!!",
            ),
            (
                "The app keeps crashing when I open invoices",
                "Invoices: app crashes as soon as I open them",
            ),
            ("Payment failed at checkout", "checkout payment FAILS"),
        ];
        for (a, b) in same {
            assert_eq!(
                incident_key(Category::Technical, a),
                incident_key(Category::Technical, b),
                "{a} / {b}"
            );
        }
    }

    #[test]
    fn different_problems_get_different_keys() {
        let different = [
            ("Online booking page is down", "The phone line is down"),
            (
                "Payment failed at checkout",
                "Password reset email never arrives",
            ),
        ];
        for (a, b) in different {
            assert_ne!(
                incident_key(Category::Technical, a),
                incident_key(Category::Technical, b),
                "{a} / {b}"
            );
        }
        let text = "Online booking page is down";
        assert_ne!(
            incident_key(Category::Technical, text),
            incident_key(Category::Billing, text)
        );
        assert_eq!(
            incident_key(Category::Technical, text),
            "technical:book+down+online"
        );
    }

    #[test]
    fn many_customers_counts_each_customer_once_within_the_window() {
        let now = at("2025-06-30T12:00:00Z");
        let rule = IncidentRule {
            threshold: 3,
            window_minutes: 60,
        };
        let m = |minutes_ago: i64| now - SignedDuration::from_mins(minutes_ago);
        type Reports<'a> = &'a [(&'a str, Timestamp)];
        let cases: [(Reports, Option<u32>); 6] = [
            (&[("ann", m(0)), ("bob", m(10)), ("cy", m(59))], Some(3)),
            (&[("ann", m(0)), ("bob", m(10)), ("cy", m(60))], Some(3)),
            // The third customer wrote before the window opened.
            (&[("ann", m(0)), ("bob", m(10)), ("cy", m(61))], None),
            // One customer writing five times is one customer.
            (
                &[
                    ("ann", m(0)),
                    ("ann", m(1)),
                    ("ann", m(2)),
                    ("ann", m(3)),
                    ("bob", m(4)),
                ],
                None,
            ),
            // Reports after `now` are not counted.
            (&[("ann", m(0)), ("bob", m(1)), ("cy", m(-5))], None),
            (
                &[("ann", m(0)), ("bob", m(1)), ("cy", m(2)), ("dee", m(3))],
                Some(4),
            ),
        ];
        for (reports, expected) in cases {
            assert_eq!(many_customers(reports, now, &rule), expected, "{reports:?}");
        }
        let off = IncidentRule {
            threshold: 0,
            window_minutes: 60,
        };
        assert_eq!(many_customers(&[("ann", now)], now, &off), None);
    }

    #[test]
    fn only_messages_that_say_enough_are_grouped() {
        assert_eq!(
            grouping_key(Category::Technical, "Online booking page is down"),
            Some("technical:book+down+online".to_owned())
        );
        assert_eq!(
            grouping_key(Category::Other, "Payment failed"),
            Some("other:fail+payment".to_owned())
        );
        for vague in [
            "Hello",
            "Question\n\nHello",
            "Hi, can you help me please?",
            "",
        ] {
            assert_eq!(grouping_key(Category::Other, vague), None, "{vague:?}");
        }
    }
}
