//! Training the learned layer (see `learned.rs`) from labelled corpora: pure and
//! deterministic, so the shipped weights can be rebuilt byte for byte from the repository
//! (`cargo run -p ladder-core --release --example train_triggers`).
//!
//! Each kind gets its own logistic regression over the shared hashed features, fitted by
//! stochastic gradient descent with AdaGrad step sizes and L2 shrinkage, in an order
//! shuffled by a fixed seed. Hand-written rather than `linfa-logistic`: linfa fits dense
//! `ndarray` matrices, and a dense matrix of a quarter of a million hashed features per
//! message would take gigabytes for a few thousand messages; the sparse update here is a
//! few dozen lines.
//!
//! **Splits.** Every training message falls in one of `folds` folds by a hash of its id
//! (FNV-1a of the id, modulo `folds`), so the split never depends on file order. Each fold
//! is scored by a model fitted on the others; those out-of-fold scores are the validation
//! figures and choose each kind's threshold (the best F1 whose precision is at least
//! `min_precision`). The shipped model is then fitted on every training message and
//! keeps those thresholds. The holdout corpora are never passed here.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::eval::{parse_corpus, EvalError, Report, Scored};
use super::learned::{self, Features, Model, BUCKETS, DEFAULT_FAMILIES, KINDS};
use super::{Detector, Scratch};
use crate::TriggerKind;

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 shrinkage per update of a weight.
    pub l2: f32,
    /// Folds of the training data for validation and thresholds.
    pub folds: u32,
    /// Seeds the order messages are visited in.
    pub seed: u64,
    /// How much more a missed trigger costs than a false alarm while fitting.
    pub positive_weight: f32,
    /// Thresholds are chosen for the best F1 with at least this precision.
    pub min_precision: f64,
    /// Feature families (see `learned::family`).
    pub families: u32,
    /// Kinds (bits by table index) detected only where a rule held. Anger was gated so once
    /// (the scorer alone took excited capitals for anger); with more data and letter
    /// trigrams it no longer needs to be.
    pub rule_gated: u16,
    /// Also fit on composites of several messages with the union of their labels, so
    /// that the words of a long email around a trigger do not drown it out.
    pub composites: bool,
    /// Average the weights over the ends of the last this-many epochs (0: keep the last),
    /// which smooths the noise of the final stochastic steps.
    pub averaged_epochs: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 12,
            learning_rate: 0.05,
            // Strong shrinkage: with word pairs and letter trigrams there are many more
            // features than messages, and out-of-fold F1 rose from 0.83 to 0.88 as it went
            // from 1e-5 to 3e-2 (0.1 and 0.3 were no better).
            l2: 3e-2,
            folds: 5,
            seed: 0x1add_e5ee_d5ee_d5ee,
            positive_weight: 1.5,
            min_precision: 0.90,
            families: DEFAULT_FAMILIES,
            composites: true,
            // No kind needs a rule to fire any more: gating anger on its lexicon kept out-of-
            // fold anger recall at 0.53; ungated, the scorer learned insults the lexicon
            // lacks (0.90 recall) at a precision still above 0.90.
            rule_gated: 0,
            averaged_epochs: 6,
        }
    }
}

/// The outcome of training: the weights file and the validation figures.
pub struct Trained {
    /// The contents of `model.bin`.
    pub weights: Vec<u8>,
    /// Out-of-fold figures on the training data, at the chosen thresholds.
    pub validation: Report,
    /// The final model on its own training data, at the same thresholds.
    pub resubstitution: Report,
    /// Chosen logit thresholds per kind: alone, with a rule that held, and with a rule that
    /// held strongly.
    pub thresholds: Vec<(TriggerKind, [f32; 3])>,
}

struct Example {
    features: Features,
    labels: u16,
    /// What the rules did.
    signals: learned::RuleSignals,
    fold: u32,
    id: String,
    text: String,
}

/// The fold of a message, from its id.
pub fn fold_of(id: &str, folds: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % folds.max(1)
}

/// Trains on the given JSON-lines corpora (their order matters only to the checksum).
pub fn train(corpora: &[&str], config: &TrainConfig) -> Result<Trained, EvalError> {
    let rules = Detector::rules_only(&BTreeMap::new());
    let mut sha = Sha256::new();
    let mut examples = Vec::new();
    let mut scratch = Scratch::default();
    let mut features = Features::default();
    for corpus in corpora {
        sha.update(corpus.as_bytes());
        for item in parse_corpus(corpus)? {
            let signals =
                rules.training_features(&item.text, config.families, &mut scratch, &mut features);
            let labels = item
                .labels
                .iter()
                .filter_map(|k| learned::index_of(*k))
                .fold(0u16, |acc, k| acc | 1 << k);
            examples.push(Example {
                features: std::mem::take(&mut features),
                labels,
                signals,
                fold: fold_of(&item.id, config.folds),
                id: item.id,
                text: item.text,
            });
        }
    }
    if examples.is_empty() {
        return Err(EvalError::Empty);
    }
    let data_sha256: [u8; 32] = sha.finalize().into();

    // Out-of-fold logits.
    let mut oof = vec![[0f32; KINDS]; examples.len()];
    for fold in 0..config.folds {
        let fitted = fit(
            examples.iter().filter(|e| e.fold != fold),
            config,
            u64::from(fold),
        );
        for (e, out) in examples.iter().zip(oof.iter_mut()) {
            if e.fold == fold {
                *out = fitted.logits(&e.features);
            }
        }
    }
    let mut thresholds = [[0f32; 3]; KINDS];
    for (k, chosen) in thresholds.iter_mut().enumerate() {
        let scored: Vec<Candidate> = examples
            .iter()
            .zip(&oof)
            .map(|(e, l)| Candidate {
                logit: l[k],
                label: e.labels & (1 << k) != 0,
                held: e.signals.held & (1 << k) != 0,
                strong: e.signals.strong & (1 << k) != 0,
            })
            .collect();
        let gated = config.rule_gated & (1 << k) != 0;
        *chosen = choose_thresholds(&scored, config.min_precision, gated);
    }
    let judge = |e: &Example, l: &[f32; KINDS], k: usize| {
        l[k] >= learned::threshold_for(thresholds[k], k, e.signals)
    };
    let validation = report(&examples, &oof, &judge);

    let fitted = fit(examples.iter(), config, u64::from(config.folds));
    let (table, scale) = fitted.quantised();
    let model = Model {
        families: config.families,
        scale,
        bias: fitted.bias,
        threshold: thresholds.map(|t| t[0]),
        rule_threshold: thresholds.map(|t| t[1]),
        strong_threshold: thresholds.map(|t| t[2]),
        data_sha256,
        table: &table,
    };
    let resub: Vec<[f32; KINDS]> = examples.iter().map(|e| model.logits(&e.features)).collect();
    let resubstitution = report(&examples, &resub, &judge);
    Ok(Trained {
        weights: model.to_bytes(),
        validation,
        resubstitution,
        thresholds: (0..KINDS)
            .map(|k| (learned::kind_at(k), thresholds[k]))
            .collect(),
    })
}

fn report(
    examples: &[Example],
    logits: &[[f32; KINDS]],
    judge: &dyn Fn(&Example, &[f32; KINDS], usize) -> bool,
) -> Report {
    let scored = examples.iter().zip(logits).map(|(e, l)| Scored {
        id: e.id.clone(),
        text: e.text.clone(),
        expected: kinds_of(e.labels),
        got: (0..KINDS)
            .filter(|&k| judge(e, l, k))
            .map(learned::kind_at)
            .collect(),
    });
    Report::from_scored(scored)
}

fn kinds_of(bits: u16) -> BTreeSet<TriggerKind> {
    (0..KINDS)
        .filter(|k| bits & (1 << k) != 0)
        .map(learned::kind_at)
        .collect()
}

/// Rule thresholds tried: a rule hit counts from these logits on (or never).
const RULE_CUTS: [f32; 9] = [
    f32::NEG_INFINITY,
    -4.0,
    -3.0,
    -2.0,
    -1.5,
    -1.0,
    -0.5,
    0.0,
    f32::INFINITY,
];

/// One message's score for a kind, with its label and what the kind's rules did.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    logit: f32,
    label: bool,
    held: bool,
    strong: bool,
}

/// The logit thresholds (alone, with a rule hit, with a strong rule hit) of the best F1
/// among those with at least `min_precision` (the best F1 overall if none has). With
/// `gated`, only a rule hit detects the kind (the scorer may still overrule it).
fn choose_thresholds(scored: &[Candidate], min_precision: f64, gated: bool) -> [f32; 3] {
    let positives = scored.iter().filter(|s| s.label).count() as f64;
    if positives == 0.0 {
        return [f32::INFINITY; 3];
    }
    // Every pair of rule cuts, lowest (most trusting of the rules) first.
    let mut tried: Vec<((bool, f64), [f32; 3])> = Vec::new();
    for rule_cut in RULE_CUTS {
        // A strong hit is a hit: a strong cut above the rule cut would change nothing.
        for strong_cut in RULE_CUTS.into_iter().filter(|&c| c <= rule_cut) {
            let by_rule = |s: &Candidate| {
                (s.held && s.logit >= rule_cut) || (s.strong && s.logit >= strong_cut)
            };
            let (tp0, fp0) = scored
                .iter()
                .filter(|s| by_rule(s))
                .fold((0.0, 0.0), |acc, s| {
                    if s.label {
                        (acc.0 + 1.0, acc.1)
                    } else {
                        (acc.0, acc.1 + 1.0)
                    }
                });
            let rest: Vec<(f32, bool)> = scored
                .iter()
                .filter(|s| !gated && !by_rule(s))
                .map(|s| (s.logit, s.label))
                .collect();
            let (key, t) = best_cut(rest, tp0, fp0, positives, min_precision);
            tried.push((key, [t, rule_cut, strong_cut]));
        }
    }
    // The most trusting cuts whose F1 is within `RULE_TRUST` of the best: the choice
    // between neighbouring rule cuts often rests on one or two messages, so it flipped
    // from one retraining to the next, while a rule's plain anchor ("threatening BBB")
    // should not be lost to the noise of the folds.
    let Some(best) = tried
        .iter()
        .map(|t| t.0)
        .max_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
    else {
        return [f32::INFINITY; 3];
    };
    tried
        .iter()
        .find(|t| t.0 .0 == best.0 && t.0 .1 >= best.1 - RULE_TRUST)
        .map_or([f32::INFINITY; 3], |t| t.1)
}

/// How much out-of-fold F1 of one kind a lower rule cut may cost and still be preferred.
const RULE_TRUST: f64 = 0.005;

/// The threshold over `scored` (logit, label) with the best (precision met, F1), on top of
/// `tp0` true and `fp0` false detections made otherwise.
fn best_cut(
    mut scored: Vec<(f32, bool)>,
    tp0: f64,
    fp0: f64,
    positives: f64,
    min_precision: f64,
) -> ((bool, f64), f32) {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let measure = |tp: f64, predicted: f64| {
        let precision = if predicted == 0.0 {
            1.0
        } else {
            tp / predicted
        };
        let recall = tp / positives;
        let f1 = if tp == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        (precision >= min_precision, f1)
    };
    // Detecting nothing more: the threshold above every score.
    let mut best = (
        measure(tp0, tp0 + fp0),
        scored.first().map_or(f32::INFINITY, |s| s.0 + 1.0),
    );
    let mut tp = tp0;
    for (i, &(logit, label)) in scored.iter().enumerate() {
        if label {
            tp += 1.0;
        }
        // Only between distinct scores.
        let next = scored.get(i + 1).map(|s| s.0);
        if next == Some(logit) {
            continue;
        }
        let key = measure(tp, tp0 + fp0 + (i + 1) as f64);
        let at = match next {
            Some(n) => (logit + n) / 2.0,
            None => logit - 1.0,
        };
        if key > best.0 {
            best = (key, at);
        }
    }
    best
}

/// Weights in floating point while fitting.
struct Fitted {
    table: Vec<f32>,
    bias: [f32; KINDS],
}

impl Fitted {
    fn logits(&self, features: &Features) -> [f32; KINDS] {
        let mut z = self.bias;
        for (i, &r) in features.rows.iter().enumerate() {
            let x = value(features, i);
            let w = &self.table[r as usize * KINDS..][..KINDS];
            for k in 0..KINDS {
                z[k] += w[k] * x;
            }
        }
        z
    }

    /// The table as `i8` steps of a per-kind scale (the largest weight is 127 steps).
    fn quantised(&self) -> (Vec<u8>, [f32; KINDS]) {
        let mut scale = [0f32; KINDS];
        for (i, w) in self.table.iter().enumerate() {
            let k = i % KINDS;
            scale[k] = scale[k].max(w.abs() / 127.0);
        }
        let table = self
            .table
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let s = scale[i % KINDS];
                let q = if s > 0.0 {
                    (w / s).round().clamp(-127.0, 127.0)
                } else {
                    0.0
                };
                (q as i8) as u8
            })
            .collect();
        (table, scale)
    }
}

/// The value of feature `i` of a message.
fn value(features: &Features, i: usize) -> f32 {
    if i < features.global {
        1.0
    } else {
        features.word_weight
    }
}

/// A composite joins an example with up to this many others.
const MAX_PARTNERS: usize = 4;

/// The features of messages written one after the other (as in a long email or a thread):
/// their message-wide features once each, then all their words.
fn composite(parts: &[&Features], out: &mut Features) {
    out.rows.clear();
    out.tokens.clear();
    for p in parts {
        for &r in &p.rows[..p.global] {
            if !out.rows.contains(&r) {
                out.rows.push(r);
            }
        }
    }
    out.global = out.rows.len();
    for p in parts {
        out.rows.extend_from_slice(&p.rows[p.global..]);
    }
    out.tokens.resize(out.rows.len(), learned::NO_TOKEN);
    out.word_weight = 1.0;
}

/// A small deterministic generator (xorshift64*) for the visiting order.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fit<'a>(
    examples: impl Iterator<Item = &'a Example>,
    config: &TrainConfig,
    stream: u64,
) -> Fitted {
    let examples: Vec<&Example> = examples.collect();
    let mut table = vec![0f32; BUCKETS * KINDS];
    let mut squares = vec![0f32; BUCKETS * KINDS];
    let mut bias = [0f32; KINDS];
    let mut bias_squares = [0f32; KINDS];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Rng(config.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let lr = config.learning_rate;
    let mut joined = Features::default();
    let averaged = config.averaged_epochs.min(config.epochs);
    let mut sum_table = vec![0f32; if averaged > 0 { BUCKETS * KINDS } else { 0 }];
    let mut sum_bias = [0f32; KINDS];
    for epoch in 0..config.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            let e = examples[i];
            let mut step = |f: &Features, labels: u16| {
                let mut z = bias;
                for (j, &r) in f.rows.iter().enumerate() {
                    let x = value(f, j);
                    let w = &table[r as usize * KINDS..][..KINDS];
                    for k in 0..KINDS {
                        z[k] += w[k] * x;
                    }
                }
                let mut g = [0f32; KINDS];
                for k in 0..KINDS {
                    let y = labels & (1 << k) != 0;
                    let p = learned::sigmoid(z[k]);
                    g[k] = if y {
                        (p - 1.0) * config.positive_weight
                    } else {
                        p
                    };
                    bias_squares[k] += g[k] * g[k];
                    bias[k] -= lr * g[k] / (bias_squares[k].sqrt() + 1e-6);
                }
                for (j, &r) in f.rows.iter().enumerate() {
                    let x = value(f, j);
                    let from = r as usize * KINDS;
                    let w = &mut table[from..from + KINDS];
                    let s = &mut squares[from..from + KINDS];
                    for k in 0..KINDS {
                        let gk = g[k] * x + config.l2 * w[k];
                        s[k] += gk * gk;
                        w[k] -= lr * gk / (s[k].sqrt() + 1e-6);
                    }
                }
            };
            step(&e.features, e.labels);
            if config.composites {
                let partners = 1 + rng.below(MAX_PARTNERS);
                let mut labels = e.labels;
                let mut parts = vec![&e.features];
                for _ in 0..partners {
                    let other = examples[rng.below(examples.len())];
                    labels |= other.labels;
                    parts.push(&other.features);
                }
                composite(&parts, &mut joined);
                step(&joined, labels);
            }
        }
        if averaged > 0 && epoch >= config.epochs - averaged {
            for (s, w) in sum_table.iter_mut().zip(&table) {
                *s += w;
            }
            for (s, b) in sum_bias.iter_mut().zip(&bias) {
                *s += b;
            }
        }
    }
    if averaged > 0 {
        let n = averaged as f32;
        for w in &mut sum_table {
            *w /= n;
        }
        for b in &mut sum_bias {
            *b /= n;
        }
        return Fitted {
            table: sum_table,
            bias: sum_bias,
        };
    }
    Fitted { table, bias }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_prefer_precise_cuts() {
        let c = |logit: f32, label: bool, held: bool, strong: bool| Candidate {
            logit,
            label,
            held,
            strong,
        };
        // Three positives above two negatives, one negative on top; no rule hits.
        let scored = [
            c(5.0, false, false, false),
            c(4.0, true, false, false),
            c(3.0, true, false, false),
            c(2.0, true, false, false),
            c(1.0, false, false, false),
            c(0.0, false, false, false),
        ];
        let [t, _, _] = choose_thresholds(&scored, 0.5, false);
        assert!((1.0..2.0).contains(&t), "{t}");
        assert_eq!(
            choose_thresholds(&[c(1.0, false, true, false)], 0.9, false),
            [f32::INFINITY; 3]
        );
        // A positive the scorer ranks low but a rule found: the rule cut takes it.
        let with_rule = [
            c(3.0, true, false, false),
            c(-0.7, true, true, false),
            c(-0.2, false, false, false),
            c(-3.0, false, true, false),
        ];
        let [t, r, _] = choose_thresholds(&with_rule, 0.9, false);
        assert!(t > -0.2 && t <= 3.0, "{t}");
        assert!(r > -3.0 && r <= -0.7, "{r}");
        // Gated: the scorer alone never detects.
        let [t, r, _] = choose_thresholds(&with_rule, 0.9, true);
        assert_eq!(t, f32::INFINITY);
        assert!(r <= -0.7, "{r}");
        // A strong hit the scorer ranks very low, beside weak hits that are wrong: only the
        // strong cut reaches it without taking the weak ones.
        let with_strong = [
            c(3.0, true, false, false),
            c(-3.5, true, true, true),
            c(-1.2, false, true, false),
            c(-2.5, false, true, false),
        ];
        let [_, r, s] = choose_thresholds(&with_strong, 0.9, false);
        assert!(r > -1.2, "{r}");
        assert!(s <= -3.5, "{s}");
    }

    /// The training data, in the order `train_triggers` reads it (file names sorted).
    const TRAINING: [&str; 4] = [
        include_str!("../../corpus/triggers-train-2.jsonl"),
        include_str!("../../corpus/triggers-train-3-was-blind.jsonl"),
        include_str!("../../corpus/triggers-train-4.jsonl"),
        include_str!("../../corpus/triggers.jsonl"),
    ];
    const SHIPPED: &[u8] = include_bytes!("model.bin");

    #[test]
    fn the_shipped_weights_are_what_training_on_the_repository_data_gives() {
        let shipped = Model::from_bytes(SHIPPED).expect("the shipped weights load");
        let mut sha = Sha256::new();
        for corpus in TRAINING {
            sha.update(corpus.as_bytes());
        }
        let data: [u8; 32] = sha.finalize().into();
        assert_eq!(
            shipped.data_sha256, data,
            "model.bin was trained on other data: run `cargo run -p ladder-core --release --example train_triggers`"
        );
        let trained = train(&TRAINING, &TrainConfig::default()).expect("the corpora parse");
        assert!(
            trained.weights == SHIPPED,
            "a fresh training run gives other weights than model.bin"
        );
        // Training fits its own data closely; the validation figures are the honest ones.
        assert!(trained.resubstitution.micro_f1() > trained.validation.micro_f1());
        assert!(trained.validation.micro().precision() >= 0.85);
    }

    #[test]
    fn a_corrupt_weights_file_does_not_load() {
        assert!(Model::from_bytes(&SHIPPED[..SHIPPED.len() - 1]).is_none());
        let mut wrong_magic = SHIPPED.to_vec();
        wrong_magic[0] ^= 1;
        assert!(Model::from_bytes(&wrong_magic).is_none());
    }

    #[test]
    fn folds_depend_only_on_the_id() {
        assert_eq!(fold_of("m-001", 5), fold_of("m-001", 5));
        let spread: BTreeSet<u32> = (0..50).map(|i| fold_of(&format!("x-{i}"), 5)).collect();
        assert_eq!(spread.len(), 5);
    }
}
