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

/// A name or subject line: one line.
pub type ShortText = Text<200, false>;
/// A note, a comment body, a ticket description, a summary: lines and tabs allowed.
pub type LongText = Text<20_000, true>;

#[cfg(test)]
mod tests {
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
