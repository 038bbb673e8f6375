//! Escalation trigger detection in the text of a message.
//!
//! One pass of an Aho–Corasick automaton over the normalised message finds every anchor
//! phrase of every kind (see `phrases.rs`); each anchor is then judged by the few words
//! around it (`context.rs`): negated, hypothetical, blocked by a benign sense, or missing a
//! required companion word. Anger is scored separately from overt markers (`anger.rs`).
//! Evidence is reported as byte ranges of the original text, so the UI can highlight it.

mod anger;
mod context;
pub mod eval;
pub mod history;
mod normalize;
mod phrases;

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

use crate::TriggerKind;
use context::{ContextBuilder, ContextHits, ContextWords, TermSet};
use normalize::normalize;
use phrases::Rule;

pub use eval::{evaluate, EvalError, KindFigures, Report};
pub use history::{incident_key, repeat_contact, IncidentRule, RepeatRule};

/// One trigger kind found in a message, with how sure we are and the words that show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Detection {
    pub kind: TriggerKind,
    /// Between 0 and 1.
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

/// A piece of the original message: `text == &original[start..end]` (byte offsets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What a compiled rule contributes when its anchor matches.
#[derive(Debug)]
enum Role {
    Trigger,
    AngerWord(f32),
    PositiveWord,
}

#[derive(Debug)]
struct CompiledRule {
    kind: TriggerKind,
    role: Role,
    weight: f32,
    near: TermSet,
    blocks: TermSet,
    negatable: bool,
    hypothetical: bool,
}

/// One distinct normalised phrase in the automaton and the rules it anchors.
#[derive(Debug, Default)]
struct Anchor {
    /// `(rule index, prefix match)`.
    rules: Vec<(u32, bool)>,
}

/// The trigger detector: built once per tenant (built-in phrases plus the tenant's own),
/// then shared between threads; `detect` allocates only per message.
#[derive(Debug)]
pub struct Detector {
    automaton: AhoCorasick,
    anchors: Vec<Anchor>,
    rules: Vec<CompiledRule>,
    context: ContextWords,
    hypotheticals: TermSet,
}

/// Words either side of a match checked for blocking words.
const BLOCK_WINDOW: usize = 12;
/// Words either side of a match, within its sentence, searched for required companions.
const NEAR_WINDOW: usize = 14;
/// At most this many pieces of evidence per kind.
const MAX_EVIDENCE: usize = 5;

impl Default for Detector {
    fn default() -> Self {
        Detector::new(&BTreeMap::new())
    }
}

impl Detector {
    /// Built-in phrase sets plus the tenant's extra phrases per kind.
    pub fn new(extra_phrases: &BTreeMap<TriggerKind, Vec<String>>) -> Detector {
        let mut builder = Builder::default();
        for rule in phrases::RULES {
            builder.add_rule(rule);
        }
        for (word, weight) in anger::ANGER_WORDS {
            builder.add_simple(TriggerKind::Anger, Role::AngerWord(*weight), &[word]);
        }
        builder.add_simple(
            TriggerKind::Anger,
            Role::PositiveWord,
            anger::POSITIVE_WORDS,
        );
        for (kind, phrases) in extra_phrases {
            let phrases: Vec<&str> = phrases.iter().map(String::as_str).collect();
            builder.add_simple(*kind, Role::Trigger, &phrases);
        }
        builder.build()
    }

    /// Every trigger kind found in `text`: at most one detection per kind, sorted by kind.
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        let n = normalize(text);
        let norm = n.text.as_str();
        let bytes = norm.as_bytes();
        let mut found: BTreeMap<TriggerKind, (f32, Vec<(usize, usize)>)> = BTreeMap::new();
        let mut anger_weight = 0.0;
        let mut anger_spans = Vec::new();
        let mut positive = 0;
        // Context words are only looked for once some anchor needs them.
        let mut context_hits: Option<ContextHits> = None;
        for m in self.automaton.find_overlapping_iter(norm) {
            // Patterns start with the space before their first word.
            let (start, end) = (m.start() + 1, m.end());
            let whole_word = end == bytes.len() || bytes[end] == b' ';
            for &(rule_index, prefix) in &self.anchors[m.pattern().as_usize()].rules {
                if !(prefix || whole_word) {
                    continue;
                }
                let rule = &self.rules[rule_index as usize];
                if rule.needs_context() && context_hits.is_none() {
                    context_hits = Some(self.context.find(norm));
                }
                let hits = context_hits.as_ref();
                if !self.holds(rule, norm, hits, start, end) {
                    continue;
                }
                match rule.role {
                    Role::Trigger => {
                        let entry = found.entry(rule.kind).or_insert((1.0, Vec::new()));
                        entry.0 *= 1.0 - rule.weight;
                        entry.1.push((start, end));
                    }
                    Role::AngerWord(w) => {
                        anger_weight += w;
                        anger_spans.push((start, end));
                    }
                    Role::PositiveWord => positive += 1,
                }
            }
        }
        let mut detections: Vec<Detection> = found
            .into_iter()
            .map(|(kind, (miss, spans))| Detection {
                kind,
                confidence: (1.0 - miss).min(0.99),
                evidence: evidence(text, &n, spans),
            })
            .collect();
        if let Some(a) = anger::score(&n, anger_weight, &anger_spans, positive) {
            detections.push(Detection {
                kind: TriggerKind::Anger,
                confidence: a.confidence,
                evidence: evidence(text, &n, a.spans),
            });
            detections.sort_by_key(|d| d.kind);
        }
        detections
    }

    /// Whether a rule whose anchor matched at `start..end` really applies there.
    fn holds(
        &self,
        rule: &CompiledRule,
        norm: &str,
        hits: Option<&ContextHits>,
        start: usize,
        end: usize,
    ) -> bool {
        if rule.negatable && context::negated(norm, start) {
            return false;
        }
        let Some(hits) = hits else { return true };
        if rule.hypothetical && context::hypothetical(norm, hits, &self.hypotheticals, start) {
            return false;
        }
        if !rule.near.is_empty() {
            let from = context::back(norm, start, NEAR_WINDOW, true);
            let to = context::forward(norm, end, NEAR_WINDOW, true);
            if !hits.any_in(from, start, &rule.near) && !hits.any_in(end, to, &rule.near) {
                return false;
            }
        }
        if !rule.blocks.is_empty() {
            let from = context::back(norm, start, BLOCK_WINDOW, false);
            let to = context::forward(norm, end, BLOCK_WINDOW, false);
            if hits.any_in(from, to, &rule.blocks) {
                return false;
            }
        }
        true
    }
}

impl CompiledRule {
    fn needs_context(&self) -> bool {
        self.hypothetical || !self.near.is_empty() || !self.blocks.is_empty()
    }
}

/// Maps normalised spans to evidence in the original text, merging spans that overlap or
/// touch ("refund the" + "double charge" → "refund the double charge").
fn evidence(
    original: &str,
    n: &normalize::Normalized,
    mut spans: Vec<(usize, usize)>,
) -> Vec<Evidence> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
        .into_iter()
        .filter(|(s, e)| e > s)
        .take(MAX_EVIDENCE)
        .filter_map(|(s, e)| {
            let (os, oe) = n.original_span(s, e);
            let piece = original.get(os..oe)?;
            Some(Evidence {
                start: os,
                end: oe,
                text: piece.to_owned(),
            })
        })
        .collect()
}

/// Collects anchors and rules, then compiles the automaton.
#[derive(Default)]
struct Builder {
    patterns: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    anchors: Vec<Anchor>,
    rules: Vec<CompiledRule>,
    context: ContextBuilder,
}

impl Builder {
    fn add_rule(&mut self, rule: &Rule) {
        let near: Vec<String> = rule.near.iter().flat_map(|t| phrases::expand(t)).collect();
        let near = self.context.set(near.iter().map(String::as_str));
        let blocks = self.context.set(rule.blocks.iter().copied());
        let index = self.push_rule(CompiledRule {
            kind: rule.kind,
            role: Role::Trigger,
            weight: rule.weight,
            near,
            blocks,
            negatable: rule.negatable,
            hypothetical: rule.hypothetical,
        });
        for phrase in rule.phrases {
            self.add_anchor(index, phrase);
        }
    }

    fn add_simple(&mut self, kind: TriggerKind, role: Role, phrases: &[&str]) {
        let is_trigger = matches!(role, Role::Trigger);
        let index = self.push_rule(CompiledRule {
            kind,
            role,
            weight: 0.9,
            near: TermSet::default(),
            blocks: TermSet::default(),
            negatable: is_trigger,
            hypothetical: is_trigger,
        });
        for phrase in phrases {
            self.add_anchor(index, phrase);
        }
    }

    fn push_rule(&mut self, rule: CompiledRule) -> u32 {
        self.rules.push(rule);
        u32::try_from(self.rules.len() - 1).expect("fewer than 2^32 rules")
    }

    fn add_anchor(&mut self, rule: u32, phrase: &str) {
        for expanded in phrases::expand(phrase) {
            for variant in inflect(&expanded) {
                let prefix = variant.ends_with('+');
                let normalized = normalize::normalize_phrase(variant.trim_end_matches('+'));
                if normalized.is_empty() {
                    continue;
                }
                let next = self.patterns.len();
                let at = *self.index.entry(normalized.clone()).or_insert(next);
                if at == next {
                    self.patterns.push(format!(" {normalized}"));
                    self.anchors.push(Anchor::default());
                }
                if !self.anchors[at].rules.contains(&(rule, prefix)) {
                    self.anchors[at].rules.push((rule, prefix));
                }
            }
        }
    }

    fn build(mut self) -> Detector {
        let hypotheticals = context::hypotheticals(&mut self.context);
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&self.patterns)
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&self.patterns)
            })
            .expect("built-in and tenant phrases are plain strings, always compilable");
        Detector {
            automaton,
            anchors: self.anchors,
            rules: self.rules,
            context: self.context.build(),
            hypotheticals,
        }
    }
}

/// A `word+` in the middle of a phrase stands for its common inflections.
fn inflect(phrase: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let words: Vec<&str> = phrase.split(' ').collect();
    for (i, word) in words.iter().enumerate() {
        let last = i + 1 == words.len();
        let forms: Vec<String> = match word.strip_suffix('+') {
            Some(stem) if !last => ["", "s", "ed", "ing"]
                .iter()
                .map(|s| format!("{stem}{s}"))
                .collect(),
            _ => vec![(*word).to_owned()],
        };
        out = out
            .iter()
            .flat_map(|p| {
                forms.iter().map(move |f| {
                    if p.is_empty() {
                        f.clone()
                    } else {
                        format!("{p} {f}")
                    }
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests;
