//! Escalation trigger detection in the text of a message.
//!
//! The message is normalised into tokens (`normalize.rs`), each token is looked up once in
//! the lexicon of words the phrases use, and one walk of a word trie finds every anchor
//! phrase of every kind (see `phrases.rs`) and every context word. Each anchor is then
//! judged by the few words around it (`context.rs`): negated, hypothetical, blocked by a
//! benign sense, or missing a required companion word. Anger is scored separately from
//! overt markers (`anger.rs`). Evidence is reported as byte ranges of the original text, so
//! the UI can highlight it.

mod anger;
mod context;
pub mod eval;
pub mod history;
mod learned;
mod normalize;
mod phrases;
pub mod training;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::TriggerKind;
use context::{Found, Hits, Lexicon, Lookup, Output, TermBuilder, TermSet, Trie};
use learned::{Features, Model, RuleSignals, KINDS};
use normalize::{normalize_into, Normalized};
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
    /// A tenant's own phrase: it fires its kind whatever the scorer says.
    tenant: bool,
    weight: f32,
    near: TermSet,
    blocks: TermSet,
    negatable: bool,
    hypothetical: bool,
    wide: bool,
}

/// The trigger detector: built once per tenant (built-in phrases plus the tenant's own),
/// then shared between threads.
#[derive(Debug)]
pub struct Detector {
    lexicon: Lexicon,
    trie: Trie,
    rules: Vec<CompiledRule>,
    hypotheticals: TermSet,
    /// The learned layer; `None` while training it (the rules alone make its features).
    model: Option<Model<'static>>,
}

/// Words either side of a match, within its sentence, checked for blocking words: a
/// benign sense or praise in another sentence of a letter does not silence a trigger.
const BLOCK_WINDOW: usize = 12;
/// Words either side of a match, within its sentence, searched for required companions.
const NEAR_WINDOW: usize = 14;
/// The same for rules whose companions may be in neighbouring sentences.
const WIDE_NEAR_WINDOW: usize = 30;
/// A rule's confidence from which the learned layer sees it as a strong hit.
const STRONG: f32 = 0.85;
/// At most this many pieces of evidence per kind.
const MAX_EVIDENCE: usize = 5;

/// Scratch buffers larger than this (in phrase hits) are dropped after use.
const MAX_KEPT_SCRATCH: usize = 1 << 16;
/// The same for the normalised text (in bytes).
const MAX_KEPT_TEXT: usize = 1 << 18;

/// Buffers reused between messages on one thread, so detection allocates little beyond
/// its result.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    lookup: Lookup,
    found: Found,
    /// Per kind found: the chance every hit is wrong.
    kinds: Vec<(TriggerKind, f32)>,
    /// `(index in kinds, first token, end token)` of every hit that holds.
    spans: Vec<(usize, usize, usize)>,
    anger_spans: Vec<(usize, usize)>,
    features: Features,
    /// Per token: its share of one kind's score (for evidence).
    shares: Vec<f32>,
}

/// How the detector judged one kind in a message (`Detector::explain`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub kind: TriggerKind,
    /// The learned layer's probability (the rules' confidence when it is off).
    pub score: f32,
    /// The score from which the kind is detected.
    pub threshold: f32,
    pub detected: bool,
    /// Whether a rule of this kind held (its words are then the evidence).
    pub rule: bool,
    /// The words behind the score: the rule's match, or the words that raised it most.
    pub evidence: Vec<Evidence>,
}

/// What the rule layer found in a message.
struct RuleOutcome {
    /// By rule alone (the detector's answer while the learned layer is being trained).
    detections: Vec<Detection>,
    signals: RuleSignals,
    /// Kinds (bits by table index) a tenant's own phrase matched.
    tenant: u16,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new(&BTreeMap::new())
    }
}

impl Detector {
    /// Built-in phrase sets plus the tenant's extra phrases per kind.
    pub fn new(extra_phrases: &BTreeMap<TriggerKind, Vec<String>>) -> Detector {
        let mut detector = Detector::rules_only(extra_phrases);
        detector.model = Some(Model::shipped());
        detector
    }

    /// Built-in and tenant phrases with other weights than the shipped ones (a weights file
    /// as `train_triggers` writes it); `None` if `weights` is not such a file.
    pub fn with_weights(
        extra_phrases: &BTreeMap<TriggerKind, Vec<String>>,
        weights: &'static [u8],
    ) -> Option<Detector> {
        let model = Model::from_bytes(weights)?;
        let mut detector = Detector::rules_only(extra_phrases);
        detector.model = Some(model);
        Some(detector)
    }

    /// The rule layer alone (what the learned layer is trained on top of; also for
    /// comparing the two layers).
    pub fn rules_only(extra_phrases: &BTreeMap<TriggerKind, Vec<String>>) -> Detector {
        let mut builder = Builder::new();
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
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let found = self.detect_with(text, &mut scratch);
                // One huge message should not pin its buffers to the thread for good.
                if scratch.found.anchors.capacity() > MAX_KEPT_SCRATCH
                    || scratch.norm.text.capacity() > MAX_KEPT_TEXT
                {
                    *scratch = Scratch::default();
                }
                found
            }
            // Only reachable if detection re-entered itself on this thread.
            Err(_) => self.detect_with(text, &mut Scratch::default()),
        })
    }

    fn detect_with(&self, text: &str, scratch: &mut Scratch) -> Vec<Detection> {
        let RuleOutcome {
            mut detections,
            signals,
            tenant,
        } = self.run_rules(text, scratch);
        let Some(model) = &self.model else {
            return detections;
        };
        let Scratch {
            norm: n,
            lookup,
            features,
            shares,
            ..
        } = scratch;
        learned::extract(n, &lookup.flags, signals, model.families, features);
        let logits = model.logits(features);
        let mut out = Vec::with_capacity(detections.len() + 1);
        for (k, &logit) in logits.iter().enumerate() {
            let by_tenant = tenant & (1 << k) != 0;
            if !model.detects(k, logit, signals) && !by_tenant {
                continue;
            }
            let kind = learned::kind_at(k);
            let mut confidence = learned::sigmoid(logit).clamp(0.01, 0.99);
            if by_tenant {
                confidence = confidence.max(0.9);
            }
            let evidence = match detections.iter_mut().find(|d| d.kind == kind) {
                // The words a rule matched are the clearest evidence.
                Some(d) if !d.evidence.is_empty() => std::mem::take(&mut d.evidence),
                _ => learned_evidence(text, n, &lookup.flags, model, features, k, shares),
            };
            out.push(Detection {
                kind,
                confidence,
                evidence,
            });
        }
        detections.clear();
        out
    }

    /// Every text kind with its score, threshold and evidence, detected or not.
    pub fn explain(&self, text: &str) -> Vec<Explanation> {
        let mut scratch = Scratch::default();
        let RuleOutcome {
            mut detections,
            signals,
            tenant,
        } = self.run_rules(text, &mut scratch);
        let mut out = Vec::with_capacity(KINDS);
        for (k, kind) in TriggerKind::TEXT_KINDS.iter().enumerate() {
            let rule = detections.iter_mut().find(|d| d.kind == *kind);
            let rule_evidence = rule
                .as_ref()
                .map(|d| d.evidence.clone())
                .unwrap_or_default();
            let by_rule = rule.is_some();
            let by_tenant = tenant & (1 << k) != 0;
            let (score, threshold, detected, evidence) = match &self.model {
                Some(model) => {
                    learned::extract(
                        &scratch.norm,
                        &scratch.lookup.flags,
                        signals,
                        model.families,
                        &mut scratch.features,
                    );
                    let logit = model.logits(&scratch.features)[k];
                    let evidence = if rule_evidence.is_empty() {
                        learned_evidence(
                            text,
                            &scratch.norm,
                            &scratch.lookup.flags,
                            model,
                            &scratch.features,
                            k,
                            &mut scratch.shares,
                        )
                    } else {
                        rule_evidence
                    };
                    let score = if by_tenant {
                        1.0
                    } else {
                        learned::sigmoid(logit)
                    };
                    let threshold = model.threshold_for(k, signals);
                    let detected = by_tenant || model.detects(k, logit, signals);
                    (score, learned::sigmoid(threshold), detected, evidence)
                }
                None => (
                    rule.map_or(0.0, |d| d.confidence),
                    f32::MIN_POSITIVE,
                    by_rule,
                    rule_evidence,
                ),
            };
            out.push(Explanation {
                kind: *kind,
                score,
                threshold,
                detected,
                rule: by_rule,
                evidence,
            });
        }
        out
    }

    /// The learned layer's features of `text` as this detector's rules see it.
    fn training_features(
        &self,
        text: &str,
        families: u32,
        scratch: &mut Scratch,
        out: &mut Features,
    ) -> RuleSignals {
        let outcome = self.run_rules(text, scratch);
        learned::extract(
            &scratch.norm,
            &scratch.lookup.flags,
            outcome.signals,
            families,
            out,
        );
        outcome.signals
    }

    /// The rule layer: detections by rule alone, and what it saw for the learned layer.
    fn run_rules(&self, text: &str, scratch: &mut Scratch) -> RuleOutcome {
        let Scratch {
            norm: n,
            lookup,
            found,
            kinds,
            spans,
            anger_spans,
            ..
        } = scratch;
        normalize_into(text, n);
        let n = &*n;
        self.lexicon.look_up(n, lookup);
        self.trie.find(lookup, found);
        let flags = lookup.flags.as_slice();
        kinds.clear();
        spans.clear();
        anger_spans.clear();
        let mut anger_weight = 0.0;
        let mut positive = 0;
        let mut signals = RuleSignals::default();
        let mut tenant = 0u16;
        // Per kind: the chance every built-in hit is wrong.
        let mut builtin_miss = [1.0f32; KINDS];
        for &(rule_index, start, end) in &found.anchors {
            let (start, end) = (start as usize, end as usize);
            let rule = &self.rules[rule_index as usize];
            let bit = learned::index_of(rule.kind).map_or(0, |k| 1u16 << k);
            if !self.holds(rule, flags, &found.hits, start, end) {
                if matches!(rule.role, Role::Trigger) && !rule.tenant {
                    signals.silenced |= bit;
                }
                continue;
            }
            match rule.role {
                Role::Trigger => {
                    let at = match kinds.iter().position(|k| k.0 == rule.kind) {
                        Some(at) => at,
                        None => {
                            kinds.push((rule.kind, 1.0));
                            kinds.len() - 1
                        }
                    };
                    kinds[at].1 *= 1.0 - rule.weight;
                    spans.push((at, start, end));
                    if rule.tenant {
                        tenant |= bit;
                    } else if let Some(k) = learned::index_of(rule.kind) {
                        signals.held |= bit;
                        builtin_miss[k] *= 1.0 - rule.weight;
                    }
                }
                Role::AngerWord(w) => {
                    anger_weight += w;
                    anger_spans.push((start, end));
                }
                Role::PositiveWord => positive += 1,
            }
        }
        signals.happy = positive;
        for (k, miss) in builtin_miss.iter().enumerate() {
            if 1.0 - miss >= STRONG {
                signals.strong |= 1 << k;
            }
        }
        // By kind, then by place: each kind's spans in a row, in order.
        spans.sort_unstable();
        let mut detections = Vec::with_capacity(kinds.len() + 1);
        let mut rest = spans.as_slice();
        for (at, &(kind, miss)) in kinds.iter().enumerate() {
            let count = rest.iter().take_while(|s| s.0 == at).count();
            let (mine, others) = rest.split_at(count);
            rest = others;
            detections.push(Detection {
                kind,
                confidence: (1.0 - miss).min(0.99),
                evidence: evidence(text, n, mine.iter().map(|&(_, s, e)| (s, e))),
            });
        }
        if let Some(a) = anger::score(n, anger_weight, anger_spans, positive) {
            if let Some(k) = learned::index_of(TriggerKind::Anger) {
                signals.held |= 1 << k;
                if a.confidence >= STRONG {
                    signals.strong |= 1 << k;
                }
            }
            detections.push(Detection {
                kind: TriggerKind::Anger,
                confidence: a.confidence,
                evidence: evidence(text, n, a.spans.into_iter()),
            });
        }
        detections.sort_by_key(|d| d.kind);
        RuleOutcome {
            detections,
            signals,
            tenant,
        }
    }

    /// Whether a rule whose anchor matched tokens `start..end` really applies there.
    fn holds(
        &self,
        rule: &CompiledRule,
        flags: &[u8],
        hits: &Hits,
        start: usize,
        end: usize,
    ) -> bool {
        if rule.negatable && context::negated(flags, start) {
            return false;
        }
        if rule.hypothetical && context::hypothetical(flags, hits, &self.hypotheticals, start) {
            return false;
        }
        if !rule.near.is_empty() {
            let (window, in_sentence) = if rule.wide {
                (WIDE_NEAR_WINDOW, false)
            } else {
                (NEAR_WINDOW, true)
            };
            let from = context::back(flags, start, window, in_sentence);
            let to = context::forward(flags, end, window, in_sentence);
            if !hits.any_in(from, start, &rule.near) && !hits.any_in(end, to, &rule.near) {
                return false;
            }
        }
        if !rule.blocks.is_empty() {
            let from = context::back(flags, start, BLOCK_WINDOW, true);
            let to = context::forward(flags, end, BLOCK_WINDOW, true);
            // A negated benign sense does not block: "I still haven't got my refund".
            if hits.any_where(from, to, &rule.blocks, |s| !context::negated(flags, s)) {
                return false;
            }
        }
        true
    }
}

/// Maps sorted token spans to evidence in the original text, merging spans that overlap or
/// touch ("refund the" + "double charge" → "refund the double charge").
fn evidence(
    original: &str,
    n: &Normalized,
    sorted: impl Iterator<Item = (usize, usize)>,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut taken = 0;
    let mut emit = |(s, e): (usize, usize)| {
        if e <= s || taken == MAX_EVIDENCE {
            return;
        }
        taken += 1;
        let (os, oe) = n.original_span(s, e);
        if let Some(piece) = original.get(os..oe) {
            out.push(Evidence {
                start: os,
                end: oe,
                text: piece.to_owned(),
            });
        }
    };
    let mut merged: Option<(usize, usize)> = None;
    for (s, e) in sorted {
        match &mut merged {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => {
                if let Some(done) = merged.replace((s, e)) {
                    emit(done);
                }
            }
        }
    }
    if let Some(done) = merged {
        emit(done);
    }
    out
}

/// Evidence for a kind the learned layer found: the words that raised its score most (the
/// best token, and the neighbours in its clause that also raised it), up to two pieces.
fn learned_evidence(
    original: &str,
    n: &Normalized,
    flags: &[u8],
    model: &Model<'_>,
    features: &Features,
    k: usize,
    shares: &mut Vec<f32>,
) -> Vec<Evidence> {
    shares.clear();
    shares.resize(n.tokens.len(), 0.0);
    model.contributions(features, k, shares);
    // A piece starts from a content word and does not end on a function word: a banner
    // reading "since" or "the" shows nothing.
    let content = |i: usize| {
        let t = n.token(i);
        t.len() >= 4
            && flags
                .get(i)
                .is_some_and(|f| f & context::flag::FUNCTION == 0)
            && !EVIDENCE_STOPWORDS.contains(&t)
    };
    let mut picked: Vec<(usize, usize)> = Vec::new();
    let mut first_top = 0.0;
    for _ in 0..LEARNED_EVIDENCE {
        let best = shares
            .iter()
            .enumerate()
            .filter(|(i, _)| !picked.iter().any(|&(s, e)| (s..e).contains(i)))
            .filter(|&(i, &w)| w > 0.0 && content(i))
            .max_by(|a, b| a.1.total_cmp(b.1));
        let Some((best, &top)) = best else { break };
        // A second piece only if it weighs nearly as much as the first.
        if picked.is_empty() {
            first_top = top;
        } else if top < 0.5 * first_top {
            break;
        }
        // Grow over neighbours that raised the score too, within the clause.
        let is_word = |i: usize| n.tokens[i].oend > n.tokens[i].ostart;
        let raises = |i: usize| shares[i] > 0.35 * top && is_word(i);
        let (mut s, mut e) = (best, best + 1);
        while s > 0 && e - s < 6 && raises(s - 1) && !picked.iter().any(|p| p.1 == s) {
            s -= 1;
        }
        while e < shares.len() && e - s < 6 && raises(e) && !picked.iter().any(|p| p.0 == e) {
            e += 1;
        }
        while s < best && !content(s) {
            s += 1;
        }
        while e > best + 1 && !content(e - 1) {
            e -= 1;
        }
        picked.push((s, e));
    }
    picked.sort_unstable();
    evidence(original, n, picked.into_iter())
}

/// Normalised words of four letters or more that say nothing on their own.
const EVIDENCE_STOPWORDS: &[&str] = &[
    "this", "that", "with", "have", "from", "your", "they", "were", "what", "when", "there",
    "their", "about", "would", "could", "should", "ben", "wil", "just", "very", "some", "them",
    "then", "than", "into", "onto", "also", "here", "where", "which", "while", "after", "before",
    "since", "still", "these", "those", "does", "doing", "being", "cant", "dont", "didnt",
];

/// At most this many pieces of evidence for a learned detection.
const LEARNED_EVIDENCE: usize = 2;

/// Collects rules and their phrases into the lexicon and the trie.
struct Builder {
    lexicon: Lexicon,
    trie: Trie,
    terms: TermBuilder,
    rules: Vec<CompiledRule>,
    /// Normalised words of each space-separated piece of a phrase. Phrases expand to a
    /// quarter of a million variants made of a few thousand pieces; normalisation never
    /// reaches across a space, so each piece is normalised once.
    pieces: HashMap<String, Vec<String>>,
}

impl Builder {
    fn new() -> Builder {
        let mut lexicon = Lexicon::default();
        context::function_words(&mut lexicon);
        Builder {
            lexicon,
            trie: Trie::new(),
            terms: TermBuilder::default(),
            rules: Vec::new(),
            pieces: HashMap::new(),
        }
    }

    fn term_set(&mut self, raw: &[&str]) -> TermSet {
        let expanded: Vec<String> = raw.iter().flat_map(|t| phrases::expand(t)).collect();
        self.terms.set(
            expanded.iter().map(String::as_str),
            &mut self.lexicon,
            &mut self.trie,
        )
    }

    fn add_rule(&mut self, rule: &Rule) {
        let near = self.term_set(rule.near);
        let blocks: Vec<&str> = rule
            .blocks
            .iter()
            .chain(rule.more_blocks)
            .chain(phrases::kind_blocks(rule.kind))
            .copied()
            .collect();
        let blocks = self.term_set(&blocks);
        let index = self.push_rule(CompiledRule {
            kind: rule.kind,
            role: Role::Trigger,
            tenant: false,
            weight: rule.weight,
            near,
            blocks,
            negatable: rule.negatable,
            hypothetical: rule.hypothetical,
            wide: rule.wide,
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
            tenant: is_trigger,
            weight: 0.9,
            near: TermSet::default(),
            blocks: TermSet::default(),
            negatable: is_trigger,
            hypothetical: is_trigger,
            wide: false,
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
        let mut path: Vec<u32> = Vec::new();
        phrases::expand_each(phrase, &mut |expanded| {
            for variant in inflect(expanded) {
                let prefix = variant.ends_with('+');
                let text = variant.trim_end_matches('+');
                for piece in text.split(' ').filter(|p| !p.is_empty()) {
                    if !self.pieces.contains_key(piece) {
                        self.pieces
                            .insert(piece.to_owned(), normalize::phrase_words(piece));
                    }
                }
                let words = text
                    .split(' ')
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| self.pieces.get(p))
                    .flatten();
                let count = words.clone().count();
                path.clear();
                for (i, word) in words.enumerate() {
                    path.push(if prefix && i + 1 == count {
                        self.lexicon.stem(word)
                    } else {
                        self.lexicon.word(word)
                    });
                }
                self.trie.insert(&path, Output::Rule(rule));
            }
        });
    }

    fn build(mut self) -> Detector {
        let hypotheticals = self.term_set(context::HYPOTHETICALS);
        self.trie.freeze();
        self.lexicon.freeze();
        Detector {
            lexicon: self.lexicon,
            trie: self.trie,
            rules: self.rules,
            hypotheticals,
            model: None,
        }
    }
}

/// A `word+` in the middle of a phrase stands for its common inflections.
fn inflect(phrase: &str) -> Vec<String> {
    if !phrase.contains("+ ") {
        return vec![phrase.to_owned()];
    }
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
