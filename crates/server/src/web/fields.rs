//! A form's problems, by field, for the pages that re-render a form next to its errors: the
//! checks made at the edge (a blank subject, an unknown category) and a flow's refusals (an
//! invalid field named by its JSON path, a forbidden or conflicting action above the form).

use std::collections::BTreeMap;
use std::str::FromStr;

use ladder_core::text::{LongText, ShortText, TextError};

use super::{words, PageError};
use crate::flows::FlowError;

#[derive(Default)]
pub struct Errors {
    by_field: BTreeMap<String, String>,
    /// What is about the whole form (someone else decided first, not allowed…).
    pub top: Option<String>,
}

impl Errors {
    /// The message for `field`, if it has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.by_field.contains_key(field)
    }

    pub fn ok(&self) -> bool {
        self.by_field.is_empty() && self.top.is_none()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.by_field
            .entry(field.to_owned())
            .or_insert_with(|| sentence(&message.into()));
    }

    /// One line of text: `required` when blank.
    pub fn short(&mut self, field: &str, value: &str, required: &str) -> Option<ShortText> {
        match ShortText::new(value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.text_error(field, e, required);
                None
            }
        }
    }

    /// Text with line breaks: `required` when blank.
    pub fn long(&mut self, field: &str, value: &str, required: &str) -> Option<LongText> {
        match LongText::new(value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.text_error(field, e, required);
                None
            }
        }
    }

    fn text_error(&mut self, field: &str, e: TextError, required: &str) {
        match e {
            TextError::Blank => self.fail(field, required),
            other => self.fail(field, format!("This {other}")),
        }
    }

    /// A word of a vocabulary; `what` says what to choose ("a channel").
    pub fn choice<T: FromStr>(&mut self, field: &str, value: &str, what: &str) -> Option<T> {
        match value.trim().parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.fail(field, format!("Choose {what}"));
                None
            }
        }
    }

    /// Like [`Errors::choice`], but an empty value is "not given".
    pub fn optional_choice<T: FromStr>(
        &mut self,
        field: &str,
        value: &str,
        what: &str,
    ) -> Option<Option<T>> {
        if value.trim().is_empty() {
            Some(None)
        } else {
            self.choice(field, value, what).map(Some)
        }
    }

    /// Takes a flow's refusal onto the form: an invalid field next to the field its JSON path
    /// starts with (`rename` maps the flow's names to the form's, when they differ), a refusal
    /// or a conflict above the form. Anything else (not found, storage) is an error page.
    pub fn refused(
        &mut self,
        e: FlowError,
        rename: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<(), PageError> {
        let mut field = |path: &str, detail: &str| {
            let head = path.split(['.', '[']).next().unwrap_or(path);
            let name = rename(head).unwrap_or(head).to_owned();
            self.fail(&name, detail);
        };
        match e {
            FlowError::Invalid { field: f, detail } => field(&f, &detail),
            FlowError::InvalidFields(list) => {
                for f in list {
                    field(&f.field, &f.detail);
                }
            }
            FlowError::Forbidden(m) | FlowError::Conflict(m) => self.top = Some(sentence(&m)),
            other => return Err(other.into()),
        }
        Ok(())
    }
}

/// "no user with this id" → "No user with this id."
pub fn sentence(s: &str) -> String {
    let mut out = words(s.trim());
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}
