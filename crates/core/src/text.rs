//! Validated text: checked once at the edge, trusted everywhere after.

use serde::{Deserialize, Serialize};

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most {max} characters (got {len})")]
    TooLong { max: usize, len: usize },
}

/// Text that is not blank after trimming and no longer than `MAX` characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn new(s: impl Into<String>) -> Result<Self, TextError> {
        let s: String = s.into();
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(TextError::Blank);
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

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(t: Text<MAX>) -> String {
        t.0
    }
}

/// A name or subject line.
pub type ShortText = Text<200>;
/// A note, a comment body, a ticket description, a summary.
pub type LongText = Text<20_000>;

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
}
