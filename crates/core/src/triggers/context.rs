//! What the words around a match say about it: negated ("I'm not going to sue"),
//! hypothetical ("if this were serious I'd…"), or in the company of words that require or
//! rule out the match (see `phrases.rs`).
//!
//! Everything works on the normalised text, where tokens are separated by single spaces and
//! `.`/`,` are break tokens, so windows are plain byte ranges and need no allocation.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::normalize::normalize_phrase;

/// Every companion, blocking and hypothetical word of every rule, found in one pass over
/// the message (only when some anchor needs them), then looked up by window.
#[derive(Debug)]
pub(crate) struct ContextWords {
    automaton: AhoCorasick,
}

/// A set of context words: sorted term ids. A term id is `pattern * 2`, plus 1 for a
/// prefix term ("refund+").
#[derive(Debug, Default, Clone)]
pub(crate) struct TermSet(Vec<u32>);

impl TermSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Collects context words before the automaton is compiled.
#[derive(Default)]
pub(crate) struct ContextBuilder {
    patterns: Vec<String>,
    index: HashMap<String, u32>,
}

impl ContextBuilder {
    /// The set of the given raw terms (normalised here; a trailing `+` makes a prefix).
    pub fn set<'a>(&mut self, raw: impl IntoIterator<Item = &'a str>) -> TermSet {
        let mut ids: Vec<u32> = raw
            .into_iter()
            .filter_map(|r| {
                let prefix = r.ends_with('+');
                let text = normalize_phrase(r.trim_end_matches('+'));
                if text.is_empty() {
                    return None;
                }
                let next =
                    u32::try_from(self.patterns.len()).expect("fewer than 2^31 context words");
                let id = *self.index.entry(text.clone()).or_insert(next);
                if id == next {
                    self.patterns.push(format!(" {text}"));
                }
                Some(id * 2 + u32::from(prefix))
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        TermSet(ids)
    }

    pub fn build(self) -> ContextWords {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&self.patterns)
            .expect("context words are plain strings, always compilable");
        ContextWords { automaton }
    }
}

/// Where context words occur in one message: `(start, end, term id)`, sorted by start.
pub(crate) struct ContextHits(Vec<(u32, u32, u32)>);

impl ContextWords {
    pub fn find(&self, text: &str) -> ContextHits {
        let bytes = text.as_bytes();
        let mut hits = Vec::new();
        for m in self.automaton.find_overlapping_iter(text) {
            // Patterns start with the space before their first word.
            let (start, end) = (m.start() + 1, m.end());
            let id = m.pattern().as_u32() * 2;
            if end == bytes.len() || bytes[end] == b' ' {
                hits.push((start as u32, end as u32, id));
            }
            hits.push((start as u32, end as u32, id + 1));
        }
        hits.sort_unstable();
        ContextHits(hits)
    }
}

impl ContextHits {
    /// Whether a word of `set` lies wholly within `from..to`.
    pub fn any_in(&self, from: usize, to: usize, set: &TermSet) -> bool {
        let (from, to) = (from as u32, to as u32);
        let first = self.0.partition_point(|h| h.0 < from);
        self.0[first..]
            .iter()
            .take_while(|h| h.0 < to)
            .any(|h| h.1 <= to && set.0.binary_search(&h.2).is_ok())
    }
}

fn is_break(token: &str) -> bool {
    token == "." || token == ","
}

/// The byte where a window of at most `max` tokens before `start` begins.
pub(crate) fn back(text: &str, start: usize, max: usize, stop_at_sentence: bool) -> usize {
    let mut pos = start;
    for (taken, token) in text[..start]
        .split(' ')
        .rev()
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        if taken == max || (stop_at_sentence && token == ".") {
            break;
        }
        pos = text[..pos].trim_end().len() - token.len();
    }
    pos
}

/// The byte where a window of at most `max` tokens after `end` ends.
pub(crate) fn forward(text: &str, end: usize, max: usize, stop_at_sentence: bool) -> usize {
    let mut pos = end;
    for (taken, token) in text[end..].split(' ').filter(|t| !t.is_empty()).enumerate() {
        if taken == max || (stop_at_sentence && token == ".") {
            break;
        }
        let skip = text[pos..].len() - text[pos..].trim_start().len();
        pos += skip + token.len();
    }
    pos
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "didnt", "doesnt", "wont", "wouldnt", "isnt", "arent", "wasnt",
    "werent", "havent", "hasnt", "hadnt", "shouldnt", "without", "neither", "nor", "nothing",
    "nunca", "jamas", "pas", "jamais", "aucun", "aucune", "nicht", "kein", "keine", "keinen",
    "keiner", "nie", "niemals",
];

/// Words that end the scope of a negation: "I didn't get it fixed so I'll sue".
const SCOPE_ENDS: &[&str] = &[
    "but",
    "so",
    "and",
    "because",
    "since",
    "then",
    "therefore",
    "though",
    "although",
    "however",
    "unless",
    "until",
    "otherwise",
    "pero",
    "mais",
    "aber",
    "y",
    "et",
    "und",
    "sino",
];

/// Between a negator and the match, these mean the negation is about something else:
/// "I still haven't received my refund" disputes, it does not withdraw.
const NOT_ABOUT_MATCH: &[&str] = &[
    "received",
    "recieved",
    "got",
    "gotten",
    "get",
    "had",
    "seen",
    "arrived",
    "yet",
    "heard",
    "come",
    "came",
    "returned",
    "back",
    "processed",
    "credited",
    "refunded",
    "showed",
    "been",
    "ben",
    "even",
    "fixed",
    "resolved",
    "sorted",
];

const CONDITIONALS: &[&str] = &["if", "unless", "si", "wenn", "falls", "or", "else"];

/// Whether the match starting at `start` is negated within its clause.
pub(crate) fn negated(text: &str, start: usize) -> bool {
    let mut tokens = text[..start]
        .split(' ')
        .rev()
        .filter(|t| !t.is_empty())
        .take(10);
    let mut between_is_other = false;
    let mut next_after: Option<&str> = None;
    for token in tokens.by_ref() {
        if is_break(token) || SCOPE_ENDS.contains(&token) {
            return false;
        }
        if NEGATORS.contains(&token) {
            let pseudo = matches!(next_after, Some("only" | "just" | "sure" | "doubt"));
            if pseudo || between_is_other {
                return false;
            }
            // "If you don't refund me…" is a condition, not a withdrawal.
            let clause_has_condition = text[..start]
                .split(' ')
                .rev()
                .filter(|t| !t.is_empty())
                .skip_while(|t| *t != token)
                .skip(1)
                .take(6)
                .take_while(|t| !is_break(t))
                .any(|t| CONDITIONALS.contains(&t));
            return !clause_has_condition;
        }
        if NOT_ABOUT_MATCH.contains(&token) {
            between_is_other = true;
        }
        next_after = Some(token);
    }
    false
}

/// Markers of a hypothetical or counterfactual sentence.
const HYPOTHETICALS: &[&str] = &[
    "hypothetical+",
    "in theory",
    "imagine",
    "if i ever",
    "if ever",
    "if there is ever",
    "if theres ever",
    "if things ever",
    "if i were",
    "if it were",
    "if this were",
    "if that were",
    "if it was ever",
    "were to",
    "would i",
    "who would",
    "what would",
    "would that",
    "was going to",
    "were going to",
    "had thought",
    "thought about",
    "if i had",
    "i would have",
    "id have",
    "would have",
    "what happens if",
    "whether",
    "if i was",
    "asking for a friend",
    "just curious",
    "just asking",
    "what if",
];

/// The set of hypothetical markers.
pub(crate) fn hypotheticals(builder: &mut ContextBuilder) -> TermSet {
    builder.set(HYPOTHETICALS.iter().copied())
}

/// Whether the sentence holding the match (up to it) is hypothetical.
pub(crate) fn hypothetical(
    text: &str,
    hits: &ContextHits,
    markers: &TermSet,
    start: usize,
) -> bool {
    hits.any_in(back(text, start, 24, true), start, markers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::normalize::normalize;

    fn negated_at(text: &str, word: &str) -> bool {
        let n = normalize(text);
        let at = n.text.find(word).expect("word is in the text");
        negated(&n.text, at)
    }

    #[test]
    fn negation_is_scoped_to_its_clause() {
        let cases = [
            ("I'm not going to sue", "sue", true),
            ("No need to speak to a manager", "speak", true),
            ("I have no intention of taking this to court", "court", true),
            ("You didn't fix it, so I will sue", "sue", false),
            ("You didn't fix it so I will sue", "sue", false),
            ("If you don't refund me I will complain", "refund", false),
            ("I still haven't received my refund", "refund", false),
            ("Not only that, I want a refund", "refund", false),
        ];
        for (text, word, expected) in cases {
            assert_eq!(negated_at(text, word), expected, "{text}");
        }
    }

    #[test]
    fn windows_stop_at_sentences_when_asked() {
        let n = normalize("One two. Red blue green");
        let at = n.text.find("gren").expect("present");
        assert_eq!(&n.text[back(&n.text, at, 10, true)..at], "red blue ");
        assert_eq!(&n.text[back(&n.text, at, 2, false)..at], "red blue ");
        let end = n.text.find("two").expect("present") + 3;
        assert_eq!(&n.text[end..forward(&n.text, end, 10, true)], "");
        assert_eq!(&n.text[end..forward(&n.text, end, 2, false)], " . red");
    }

    #[test]
    fn hypotheticals_are_recognised() {
        let mut builder = ContextBuilder::default();
        let markers = hypotheticals(&mut builder);
        let words = builder.build();
        for (text, word, expected) in [
            ("If this were serious I'd call a lawyer", "lawyer", true),
            ("If this isn't fixed I will call a lawyer", "lawyer", false),
            ("I was going to ask for a manager", "manager", true),
        ] {
            let n = normalize(text);
            let at = n.text.find(word).expect("present");
            let hits = words.find(&n.text);
            assert_eq!(
                hypothetical(&n.text, &hits, &markers, at),
                expected,
                "{text}"
            );
        }
    }
}
