//! Validated text: checked once at the edge, trusted everywhere after.

use serde::{Deserialize, Serialize};

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most {max} characters (got {len})")]
    TooLong { max: usize, len: usize },
    #[error("must not contain the control character {code} (character {at})")]
    Control { code: String, at: usize },
}

/// Text that is not blank after trimming, no longer than `MAX` characters, and free of
/// control characters (NUL included), except line breaks and tabs when `LINES` allows them.
/// PostgreSQL refuses a NUL in text where SQLite stores it, so the two would disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize, const LINES: bool>(String);

impl<const MAX: usize, const LINES: bool> Text<MAX, LINES> {
    pub fn new(s: impl Into<String>) -> Result<Self, TextError> {
        let s: String = s.into();
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(TextError::Blank);
        }
        let line_break = |c: char| LINES && matches!(c, '\n' | '\r' | '\t');
        if let Some((at, c)) = trimmed
            .chars()
            .enumerate()
            .find(|&(_, c)| c.is_control() && !line_break(c))
        {
            return Err(TextError::Control {
                code: format!("U+{:04X}", u32::from(c)),
                at: at + 1,
            });
        }
        let len = trimmed.chars().count();
        if len > MAX {
            return Err(TextError::TooLong { max: MAX, len });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize, const LINES: bool> TryFrom<String> for Text<MAX, LINES> {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl<const MAX: usize, const LINES: bool> From<Text<MAX, LINES>> for String {
    fn from(t: Text<MAX, LINES>) -> String {
        t.0
    }
}

/// The document's schema of a text: what the server accepts, so that a client generating
/// requests from the document does not send what will be refused (a blank or a control
/// character). The length is counted after trimming, so the schema is a little stricter.
impl<const MAX: usize, const LINES: bool> utoipa::PartialSchema for Text<MAX, LINES> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        // Rust's `char::is_control` is the Cc category: U+0000–U+001F and U+007F–U+009F.
        let (pattern, what) = if LINES {
            (
                r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
                "Text that is not blank, without control characters other than line breaks and tabs.",
            )
        } else {
            (
                r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$",
                "One line of text that is not blank, without control characters.",
            )
        };
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX))
            .pattern(Some(pattern))
            .description(Some(what))
            .into()
    }
}

impl<const MAX: usize, const LINES: bool> utoipa::ToSchema for Text<MAX, LINES> {
    fn name() -> std::borrow::Cow<'static, str> {
        match (MAX, LINES) {
            (200, false) => "ShortText".into(),
            (20_000, true) => "LongText".into(),
            (max, lines) => format!("Text{max}{}", if lines { "Lines" } else { "" }).into(),
        }
    }
}

/// A name or subject line: one line.
pub type ShortText = Text<200, false>;
/// A note, a comment body, a ticket description, a summary: lines and tabs allowed.
pub type LongText = Text<20_000, true>;

/// Characters an email address never holds: Rust's `char::is_whitespace` and
/// `char::is_control`, spelled as a regular-expression class body, so that the document's
/// pattern and `Email::new` say the same thing.
const NOT_IN_EMAIL: &str =
    r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The longest email address accepted, in characters (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// An email address as Ladder accepts one: a non-empty local part, `@`, and a domain of at
/// least two dot-separated labels; no `@` after the first, no whitespace or control
/// character, at most `EMAIL_MAX` characters. Deliberately simple: whether mail reaches it
/// is the mail server's business, and the document's pattern says exactly this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address")]
pub struct EmailError(pub String);

impl Email {
    pub fn new(s: impl Into<String>) -> Result<Self, EmailError> {
        let s: String = s.into();
        let bad = |c: char| c == '@' || c.is_whitespace() || c.is_control();
        let ok = s.chars().count() <= EMAIL_MAX
            && s.split_once('@').is_some_and(|(local, domain)| {
                let labels: Vec<&str> = domain.split('.').collect();
                !local.is_empty()
                    && !local.chars().any(bad)
                    && labels.len() >= 2
                    && labels.iter().all(|l| !l.is_empty() && !l.chars().any(bad))
            });
        if ok {
            Ok(Email(s))
        } else {
            Err(EmailError(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The document's pattern for an address.
    pub fn pattern() -> String {
        let c = NOT_IN_EMAIL;
        format!(r"^[^@{c}]+@[^@.{c}]+(\.[^@.{c}]+)+$")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(3))
            .max_length(Some(EMAIL_MAX))
            .pattern(Some(Email::pattern()))
            .description(Some(
                "An email address: a local part, `@`, and a domain of dot-separated labels; \
                 no whitespace or control characters.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// The document's pattern and length, for a text type, as a check of a string.
    fn schema_allows<const MAX: usize, const LINES: bool>(s: &str) -> bool {
        let schema = match <Text<MAX, LINES> as utoipa::PartialSchema>::schema() {
            utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(o)) => o,
            _ => panic!("a text schema is an object"),
        };
        let pattern = regex::Regex::new(schema.pattern.as_deref().expect("a pattern"))
            .expect("the pattern is a regular expression");
        let len = s.chars().count();
        pattern.is_match(s)
            && schema.min_length.is_some_and(|m| len >= m)
            && schema.max_length.is_some_and(|m| len <= m)
    }

    proptest! {
        /// What the document allows, the server accepts; and what it refuses for being blank
        /// or holding a control character, the document does not allow.
        #[test]
        fn the_schema_allows_only_text_the_server_accepts(
            s in "(?s).{0,30}|[ \t\n\r\u{0}\u{1b}\u{85}\u{a0}a-c]{0,8}"
        ) {
            if schema_allows::<200, false>(&s) {
                prop_assert!(ShortText::new(s.clone()).is_ok(), "{s:?}");
            }
            if schema_allows::<20_000, true>(&s) {
                prop_assert!(LongText::new(s.clone()).is_ok(), "{s:?}");
            }
            if matches!(ShortText::new(s.clone()), Err(TextError::Blank | TextError::Control { .. })) {
                prop_assert!(!schema_allows::<200, false>(&s), "{s:?}");
            }
            if matches!(LongText::new(s.clone()), Err(TextError::Blank | TextError::Control { .. })) {
                prop_assert!(!schema_allows::<20_000, true>(&s), "{s:?}");
            }
        }
    }

    fn email_schema_allows(s: &str) -> bool {
        let pattern =
            regex::Regex::new(&Email::pattern()).expect("the pattern is a regular expression");
        let len = s.chars().count();
        pattern.is_match(s) && (3..=super::EMAIL_MAX).contains(&len)
    }

    proptest! {
        /// The document's pattern for an email address and `Email::new` agree on every string.
        #[test]
        fn the_email_schema_is_what_the_server_accepts(
            s in "[a-c@. \t\u{0}\u{85}\u{a0}\u{3000}\u{e9}]{0,12}|(?s).{0,20}|[a-z]{1,4}@[a-z]{1,4}(\\.[a-z]{0,3}){0,3}"
        ) {
            prop_assert_eq!(email_schema_allows(&s), super::Email::new(s.clone()).is_ok(), "{:?}", s);
        }
    }

    use super::*;

    #[test]
    fn blank_and_oversized_text_are_refused() {
        assert_eq!(ShortText::new("   \n"), Err(TextError::Blank));
        assert!(matches!(
            ShortText::new("x".repeat(201)),
            Err(TextError::TooLong { max: 200, len: 201 })
        ));
        assert_eq!(ShortText::new("  Billing  ").unwrap().as_str(), "Billing");
    }

    #[test]
    fn control_characters_are_refused_but_long_text_keeps_its_lines() {
        assert_eq!(
            ShortText::new("Bill\u{0}ing"),
            Err(TextError::Control {
                code: "U+0000".into(),
                at: 5
            })
        );
        assert!(ShortText::new("two\nlines").is_err());
        assert!(ShortText::new("a\u{1b}[31m").is_err());
        assert!(
            LongText::new("a\u{7f}").is_err(),
            "DEL is a control character"
        );
        assert!(LongText::new("a\u{85}b").is_err(), "so is NEXT LINE");
        assert!(LongText::new("x\u{0}").is_err());
        let kept = LongText::new("Dear Pat,\r\n\tthe invoice.\nBye").unwrap();
        assert_eq!(kept.as_str(), "Dear Pat,\r\n\tthe invoice.\nBye");
    }
}
