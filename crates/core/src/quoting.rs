//! Where the quoted history of an email's text begins: the earlier messages a mail program
//! copies below a reply ("On … wrote:", Outlook's "-----Original Message-----" or "From:"
//! block, trailing `>` lines) or a forward carries ("---------- Forwarded message").
//!
//! The pages show a customer's message with its history folded. The search index leaves out
//! the history of a reply, which repeats the ticket's earlier messages (each indexed as
//! itself) and made a thread's indexed text grow as the square of its length; a forward's
//! history is kept, as it brings words the ticket may not hold anywhere else.

/// The quoted history of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// The byte offset of the line that opens it.
    pub at: usize,
    /// Opened by a forward's marker rather than a reply's.
    pub forwarded: bool,
}

/// The quoted history of `text`, if something new comes before it.
pub fn history(text: &str) -> Option<History> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        let forwarded = (lower.starts_with("-----") && lower.contains("forwarded message"))
            || lower.starts_with("---------- forwarded message");
        let replied = (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
            || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
            || (lower.starts_with("-----") && lower.contains("original message"))
            || (lower.starts_with("from:") && rest_has_outlook_block(&text[offset..]))
            || (t.starts_with('>')
                && text[offset..].lines().all(|l| {
                    let l = l.trim();
                    l.is_empty() || l.starts_with('>')
                }));
        if (forwarded || replied) && offset > 0 && !text[..offset].trim_end().is_empty() {
            return Some(History {
                at: offset,
                forwarded,
            });
        }
        offset += line.len();
    }
    None
}

/// The text split where the quoted history begins: what is new, and the history, if any.
pub fn split_quoted(text: &str) -> (&str, Option<&str>) {
    match history(text) {
        Some(h) => (text[..h.at].trim_end(), Some(text[h.at..].trim())),
        None => (text, None),
    }
}

/// How many characters of a customer's message the search index holds: those before a
/// reply's quoted history; `None` for all of them.
pub fn indexed_chars(text: &str) -> Option<i64> {
    history(text)
        .filter(|h| !h.forwarded)
        .map(|h| text[..h.at].chars().count() as i64)
}

/// Whether a `From:` line opens Outlook's header block (Sent:/Date: and To:/Subject: follow
/// within a few lines), rather than the word "From:" in a sentence.
fn rest_has_outlook_block(rest: &str) -> bool {
    let head: Vec<String> = rest
        .lines()
        .take(6)
        .map(|l| l.trim().to_ascii_lowercase())
        .collect();
    head.iter()
        .any(|l| l.starts_with("sent:") || l.starts_with("date:"))
        && head
            .iter()
            .any(|l| l.starts_with("subject:") || l.starts_with("to:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_split_from_what_is_new() {
        let (new, old) =
            split_quoted("Still broken.\n\nOn Mon, 2 Jun 2025, Clinic wrote:\n> Fixed?\n");
        assert_eq!(new, "Still broken.");
        assert_eq!(old, Some("On Mon, 2 Jun 2025, Clinic wrote:\n> Fixed?"));
        assert_eq!(split_quoted("Just this."), ("Just this.", None));
        // A sentence that mentions "From:" is not a header block.
        let text = "Hi\nFrom: the look of it, nothing works.\nThanks";
        assert_eq!(split_quoted(text), (text, None));
        // Nothing new before it: no history, the whole text is the message.
        let text = "> only a quote\n";
        assert_eq!(split_quoted(text), (text, None));
    }

    #[test]
    fn the_index_leaves_out_a_reply_s_history_and_keeps_a_forward_s() {
        let reply = "Stíll brøken.\n\nOn Mon, 2 Jun 2025, Clinic wrote:\n> Fixed?\n";
        let n = indexed_chars(reply).expect("a reply's history");
        // Characters, not bytes: what SQLite's and PostgreSQL's `substr` count.
        let kept: String = reply.chars().take(n as usize).collect();
        assert_eq!(kept.trim_end(), "Stíll brøken.");
        let outlook = "Please call me.\r\n\r\n-----Original Message-----\r\nFrom: Clinic\r\n";
        assert_eq!(indexed_chars(outlook), Some(19));
        let forward =
            "See below.\n\n---------- Forwarded message ---------\nFrom: Bank\nDeposit kept.\n";
        assert_eq!(indexed_chars(forward), None);
        assert_eq!(
            history(forward),
            Some(History {
                at: 12,
                forwarded: true
            })
        );
        assert_eq!(indexed_chars("No history at all."), None);
    }
}
