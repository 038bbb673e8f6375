//! The learned layer: one linear scorer (logistic regression) per trigger kind over hashed
//! features of the normalised message, beside the rules.
//!
//! Features are word unigrams and bigrams (a clause break starts a new bigram chain), the
//! first five letters of longer words (a cheap stem: "threatening" meets "threatened"),
//! letter trigrams inside words (misspellings, compounds, other languages), words in the
//! scope of a negation marked as such, and what the rule layer saw: per kind, whether a rule
//! held, held strongly, or matched but was silenced (negated, hypothetical, blocked). So the
//! scorer learns how far to trust each rule and covers what no rule lists, while the rules'
//! judgement of context reaches it as evidence rather than as a veto.
//!
//! Every feature is hashed into `BUCKETS` rows of one `i8` weight per kind (`KINDS`
//! contiguous bytes, one cache line per feature). The weights file (`model.bin`, written by
//! `cargo run -p ladder-core --release --example train_triggers`) is that table plus a
//! header; it is compiled into the binary and read in place, never parsed into the heap,
//! and `MODEL_IS_WELL_FORMED` checks its header and length when the crate compiles, so a
//! corrupt file is a build error rather than a silent default at run time.

use super::context::flag;
use super::normalize::{word_hash, Normalized};
use crate::TriggerKind;

/// The kinds scored, in `TriggerKind::TEXT_KINDS` order.
pub(crate) const KINDS: usize = 10;
/// log2 of the rows of the weight table.
pub(crate) const BITS: u32 = 16;
pub(crate) const BUCKETS: usize = 1 << BITS;

/// Magic and format version at the start of `model.bin`.
const MAGIC: &[u8; 8] = b"LDTRIG04";
/// magic, bits, kinds, feature set, then per kind scale, bias, threshold, rule threshold
/// and strong-rule threshold (f32 each), then the SHA-256 of the training data.
pub(crate) const HEADER: usize = 8 + 4 + 4 + 4 + KINDS * PER_KIND + 32;
/// Bytes of the header per kind.
const PER_KIND: usize = 20;

/// Which feature families a model uses (recorded in its header, so extraction at run time
/// always matches training).
pub(crate) mod family {
    pub const WORDS: u32 = 1;
    pub const BIGRAMS: u32 = 2;
    pub const PREFIXES: u32 = 4;
    pub const NEGATED: u32 = 8;
    pub const RULES: u32 = 16;
    pub const TRIGRAMS: u32 = 32;
    pub const SHAPE: u32 = 64;
    /// Word features are scaled by one over the square root of their count, so a long
    /// message does not pile up weight (rule and shape features count fully).
    pub const NORMALISED: u32 = 128;
}

/// The feature families of the shipped model: everything but length normalisation. With
/// weak shrinkage, bigrams, prefixes, negation marks and letter trigrams each lowered the
/// out-of-fold F1 (the scorer memorised them); with strong shrinkage (`TrainConfig::l2`)
/// and the grown corpus, all of them together raised it from 0.82 to 0.88. Trigrams carry
/// what a word list cannot: misspellings, SMS spellings, compounds and inflections in the
/// other languages.
pub(crate) const DEFAULT_FAMILIES: u32 = family::WORDS
    | family::BIGRAMS
    | family::PREFIXES
    | family::NEGATED
    | family::RULES
    | family::TRIGRAMS
    | family::SHAPE;

/// The weights the binary ships with.
static MODEL_BYTES: &[u8] = include_bytes!("model.bin");

// Checked when the crate compiles: a weights file of the wrong shape does not build.
const _: () = assert!(
    well_formed(MODEL_BYTES),
    "triggers/model.bin is not a weights file of this version and shape"
);

const fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const fn well_formed(b: &[u8]) -> bool {
    if b.len() != HEADER + BUCKETS * KINDS {
        return false;
    }
    let mut i = 0;
    while i < MAGIC.len() {
        if b[i] != MAGIC[i] {
            return false;
        }
        i += 1;
    }
    read_u32(b, 8) == BITS && read_u32(b, 12) == KINDS as u32
}

/// What the rule layer saw in a message, as bit sets over kind indices.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RuleSignals {
    /// Some rule of the kind held.
    pub held: u16,
    /// ... with a confidence of at least 0.85.
    pub strong: u16,
    /// An anchor of the kind matched but its context silenced it.
    pub silenced: u16,
    /// Happy words ("thank", "best", "love"): capitals around them are excitement.
    pub happy: u32,
}

/// The features of one message: table rows, and the token each came from (`NO_TOKEN` for
/// message-wide ones), for evidence.
#[derive(Debug, Default)]
pub(crate) struct Features {
    pub rows: Vec<u32>,
    pub tokens: Vec<u32>,
    /// How many of `rows` (the first ones) are message-wide.
    pub global: usize,
    /// The weight of each word feature (1, or less when `NORMALISED`).
    pub word_weight: f32,
}

pub(crate) const NO_TOKEN: u32 = u32::MAX;

impl Features {
    #[inline]
    fn push(&mut self, row: u32, token: u32) {
        self.rows.push(row);
        self.tokens.push(token);
    }
}

// Tags that keep the feature families apart in the hash.
const T_WORD: u64 = 1;
const T_BIGRAM: u64 = 2;
const T_PREFIX: u64 = 3;
const T_NEG: u64 = 4;
const T_HELD: u64 = 5;
const T_STRONG: u64 = 6;
const T_SILENCED: u64 = 7;
const T_TRIGRAM: u64 = 8;
const T_SHAPE: u64 = 9;
/// Stands for "no previous word" in a bigram: the start of a clause.
const CLAUSE_START: u64 = 0x9e37_79b9;

/// A row of the table for a feature: the family tag and up to two hashes, mixed (the
/// finaliser of SplitMix64) and cut to `BITS` bits.
#[inline]
fn row(tag: u64, a: u64, b: u64) -> u32 {
    let mut z = tag
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(a)
        .rotate_left(23)
        ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (64 - BITS)) as u32
}

/// How many words a negation reaches forward, within its clause.
const NEGATION_REACH: u32 = 5;

/// The features of a normalised message; `flags` are the lexicon's per-token flags.
pub(crate) fn extract(
    n: &Normalized,
    flags: &[u8],
    signals: RuleSignals,
    families: u32,
    out: &mut Features,
) {
    out.rows.clear();
    out.tokens.clear();
    if families & family::RULES != 0 {
        for k in 0..KINDS as u64 {
            let bit = 1 << k;
            if signals.held & bit != 0 {
                out.push(row(T_HELD, k, 0), NO_TOKEN);
            }
            if signals.strong & bit != 0 {
                out.push(row(T_STRONG, k, 0), NO_TOKEN);
            }
            if signals.silenced & bit != 0 {
                out.push(row(T_SILENCED, k, 0), NO_TOKEN);
            }
        }
    }
    if families & family::SHAPE != 0 {
        out.push(row(T_SHAPE, 1, n.caps_words.len().min(4) as u64), NO_TOKEN);
        out.push(row(T_SHAPE, 2, u64::from(n.bang_runs.min(3))), NO_TOKEN);
        out.push(row(T_SHAPE, 3, u64::from(signals.happy.min(2))), NO_TOKEN);
    }
    out.global = out.rows.len();
    let text = n.text.as_bytes();
    let mut prev = CLAUSE_START;
    let mut negated = 0;
    for (i, t) in n.tokens.iter().enumerate() {
        let f = flags.get(i).copied().unwrap_or(0);
        let at = i as u32;
        if f & flag::BREAK != 0 {
            prev = CLAUSE_START;
            negated = 0;
            continue;
        }
        let h = t.hash;
        if families & family::WORDS != 0 {
            out.push(row(T_WORD, h, 0), at);
        }
        if families & family::BIGRAMS != 0 {
            out.push(row(T_BIGRAM, prev, h), at);
        }
        let word = text.get(t.start as usize..t.end as usize).unwrap_or(&[]);
        if families & family::PREFIXES != 0 && word.len() >= 7 {
            out.push(row(T_PREFIX, word_hash(&word[..5]), 0), at);
        }
        if families & family::TRIGRAMS != 0 && word.len() >= 4 {
            // Letter trigrams of the word padded with a space each side.
            let mut g: u64 = u64::from(b' ');
            for (j, &c) in word.iter().enumerate() {
                g = ((g << 8) | u64::from(c)) & 0xff_ffff;
                if j >= 1 {
                    out.push(row(T_TRIGRAM, g, 0), at);
                }
            }
            g = ((g << 8) | u64::from(b' ')) & 0xff_ffff;
            out.push(row(T_TRIGRAM, g, 0), at);
        }
        if families & family::NEGATED != 0 && negated > 0 {
            out.push(row(T_NEG, h, 0), at);
        }
        if f & flag::NEGATOR != 0 {
            negated = NEGATION_REACH;
        } else if f & flag::SCOPE_END != 0 {
            negated = 0;
        } else {
            negated = negated.saturating_sub(1);
        }
        prev = h;
    }
    let words = out.rows.len() - out.global;
    out.word_weight = if families & family::NORMALISED != 0 && words > 0 {
        NORMAL_WORDS / (words as f32).sqrt()
    } else {
        1.0
    };
}

/// With `NORMALISED`, a message of this many word features keeps weight 1 on each.
const NORMAL_WORDS: f32 = 8.0;

/// A weight table with its per-kind scale, bias and threshold: the shipped one (read in
/// place from the binary) or a freshly trained one.
#[derive(Clone)]
pub(crate) struct Model<'a> {
    pub families: u32,
    pub scale: [f32; KINDS],
    pub bias: [f32; KINDS],
    /// A kind is detected when its logit reaches this ...
    pub threshold: [f32; KINDS],
    /// ... or when one of its rules held and its logit reaches this (lower) one ...
    pub rule_threshold: [f32; KINDS],
    /// ... or when one of its rules held strongly (a plain anchor phrase, confidence at
    /// least 0.85) and its logit reaches this one. A short message ("Ich werde Sie
    /// verklagen.") has few words to raise the score, so a rule's clearest hits need a
    /// bar of their own.
    pub strong_threshold: [f32; KINDS],
    pub data_sha256: [u8; 32],
    /// `BUCKETS * KINDS` weights as bytes (each an `i8`), row by row.
    pub table: &'a [u8],
}

impl std::fmt::Debug for Model<'_> {
    // Not the 640 KiB table.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("families", &self.families)
            .field("threshold", &self.threshold)
            .field("rule_threshold", &self.rule_threshold)
            .field("strong_threshold", &self.strong_threshold)
            .field("table_bytes", &self.table.len())
            .finish_non_exhaustive()
    }
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    let mut four = [0; 4];
    if let Some(s) = b.get(at..at + 4) {
        four.copy_from_slice(s);
    }
    f32::from_le_bytes(four)
}

impl Model<'static> {
    /// The model compiled into the binary.
    pub fn shipped() -> Model<'static> {
        Model::read(MODEL_BYTES)
    }
}

impl<'a> Model<'a> {
    /// Reads a weights file whose shape `well_formed` has vouched for.
    fn read(b: &'a [u8]) -> Model<'a> {
        let mut scale = [0.0; KINDS];
        let mut bias = [0.0; KINDS];
        let mut threshold = [0.0; KINDS];
        let mut rule_threshold = [0.0; KINDS];
        let mut strong_threshold = [0.0; KINDS];
        for k in 0..KINDS {
            let at = 20 + k * PER_KIND;
            scale[k] = f32_at(b, at);
            bias[k] = f32_at(b, at + 4);
            threshold[k] = f32_at(b, at + 8);
            rule_threshold[k] = f32_at(b, at + 12);
            strong_threshold[k] = f32_at(b, at + 16);
        }
        let mut data_sha256 = [0; 32];
        if let Some(s) = b.get(HEADER - 32..HEADER) {
            data_sha256.copy_from_slice(s);
        }
        Model {
            families: read_u32(b, 16),
            scale,
            bias,
            threshold,
            rule_threshold,
            strong_threshold,
            data_sha256,
            table: b.get(HEADER..).unwrap_or(&[]),
        }
    }

    /// Reads a weights file, checking its shape.
    pub fn from_bytes(b: &'a [u8]) -> Option<Model<'a>> {
        well_formed(b).then(|| Model::read(b))
    }

    /// The weights file: header, then the table.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.table.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BITS.to_le_bytes());
        out.extend_from_slice(&(KINDS as u32).to_le_bytes());
        out.extend_from_slice(&self.families.to_le_bytes());
        for k in 0..KINDS {
            out.extend_from_slice(&self.scale[k].to_le_bytes());
            out.extend_from_slice(&self.bias[k].to_le_bytes());
            out.extend_from_slice(&self.threshold[k].to_le_bytes());
            out.extend_from_slice(&self.rule_threshold[k].to_le_bytes());
            out.extend_from_slice(&self.strong_threshold[k].to_le_bytes());
        }
        out.extend_from_slice(&self.data_sha256);
        out.extend_from_slice(self.table);
        out
    }

    /// The logit of every kind for a message's features.
    #[inline]
    pub fn logits(&self, features: &Features) -> [f32; KINDS] {
        let (global, words) = features
            .rows
            .split_at(features.global.min(features.rows.len()));
        let g = self.sums(global);
        let w = self.sums(words);
        let mut out = self.bias;
        for k in 0..KINDS {
            out[k] += (g[k] as f32 + w[k] as f32 * features.word_weight) * self.scale[k];
        }
        out
    }

    #[inline]
    fn sums(&self, rows: &[u32]) -> [i32; KINDS] {
        let mut sums = [0i32; KINDS];
        for &r in rows {
            let from = r as usize * KINDS;
            if let Some(w) = self.table.get(from..from + KINDS) {
                for (s, &w) in sums.iter_mut().zip(w) {
                    *s += i32::from(w as i8);
                }
            }
        }
        sums
    }

    /// Each token's share of kind `k`'s logit, added into `per_token` (one slot per token).
    pub fn contributions(&self, features: &Features, k: usize, per_token: &mut [f32]) {
        for (&r, &t) in features.rows.iter().zip(&features.tokens) {
            if t == NO_TOKEN {
                continue;
            }
            let w = self.table.get(r as usize * KINDS + k).map_or(0.0, |&w| {
                f32::from(w as i8) * self.scale[k] * features.word_weight
            });
            if let Some(slot) = per_token.get_mut(t as usize) {
                *slot += w;
            }
        }
    }
}

impl Model<'_> {
    /// Whether kind `k` is detected at `logit`, given what its rules did: its threshold, or
    /// a lower one where one of its rules held (lower still where it held strongly). A
    /// rule's suppressions (negated, hypothetical, a benign sense) reach the scorer as a
    /// feature, not a veto: as a veto, a suppressed anchor anywhere in a message silenced
    /// the kind's real evidence elsewhere, and out-of-fold recall fell from 0.69 to 0.64.
    pub fn detects(&self, k: usize, logit: f32, signals: RuleSignals) -> bool {
        logit >= self.threshold_for(k, signals)
    }

    /// The logit kind `k` must reach, given what its rules did.
    pub fn threshold_for(&self, k: usize, signals: RuleSignals) -> f32 {
        threshold_for(
            [
                self.threshold[k],
                self.rule_threshold[k],
                self.strong_threshold[k],
            ],
            k,
            signals,
        )
    }
}

/// See `Model::threshold_for`: `[alone, with a rule hit, with a strong rule hit]`.
pub(crate) fn threshold_for(thresholds: [f32; 3], k: usize, signals: RuleSignals) -> f32 {
    let [alone, rule, strong] = thresholds;
    let bit = 1 << k;
    let mut t = alone;
    if signals.held & bit != 0 {
        t = t.min(rule);
    }
    if signals.strong & bit != 0 {
        t = t.min(strong);
    }
    t
}

/// The kind at index `k` of the tables.
pub(crate) fn kind_at(k: usize) -> TriggerKind {
    TriggerKind::TEXT_KINDS[k]
}

/// The index of a kind in the tables.
pub(crate) fn index_of(kind: TriggerKind) -> Option<usize> {
    TriggerKind::TEXT_KINDS.iter().position(|k| *k == kind)
}

/// The logistic function.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
