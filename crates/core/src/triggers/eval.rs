//! Measuring the detector against a labelled corpus (JSON lines, see `corpus/`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use super::Detector;
use crate::TriggerKind;

/// Why a corpus could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: not a corpus item: {source}")]
    BadLine {
        line: usize,
        source: serde_json::Error,
    },
    #[error("the corpus has no items")]
    Empty,
}

/// One labelled message of a corpus.
#[derive(Deserialize)]
pub(crate) struct Item {
    pub id: String,
    pub text: String,
    pub labels: Vec<TriggerKind>,
}

/// Every item of a JSON-lines corpus (blank lines skipped).
pub(crate) fn parse_corpus(corpus_jsonl: &str) -> Result<Vec<Item>, EvalError> {
    let mut items = Vec::new();
    for (i, line) in corpus_jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        items.push(
            serde_json::from_str(line).map_err(|source| EvalError::BadLine {
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(items)
}

/// What was expected of one message and what was found.
pub(crate) struct Scored {
    pub id: String,
    pub text: String,
    pub expected: BTreeSet<TriggerKind>,
    pub got: BTreeSet<TriggerKind>,
}

/// Counts and figures for one trigger kind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KindFigures {
    pub true_positives: u32,
    pub false_positives: u32,
    pub false_negatives: u32,
}

impl KindFigures {
    /// Share of detections that were right (1 when nothing was detected).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
    /// Share of labelled items that were found (1 when nothing was labelled).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// How many items carry this label.
    pub fn support(&self) -> u32 {
        self.true_positives + self.false_negatives
    }
}

fn ratio(num: u32, den: u32) -> f64 {
    if den == 0 {
        1.0
    } else {
        f64::from(num) / f64::from(den)
    }
}

/// An item the detector got wrong.
#[derive(Clone, Debug)]
pub struct Miss {
    pub id: String,
    pub expected: Vec<TriggerKind>,
    pub got: Vec<TriggerKind>,
    pub text: String,
}

/// The outcome of an evaluation: per-kind figures, averages and every misclassified item.
#[derive(Clone, Debug)]
pub struct Report {
    items: usize,
    per_kind: Vec<(TriggerKind, KindFigures)>,
    misses: Vec<Miss>,
}

impl Report {
    pub fn items(&self) -> usize {
        self.items
    }
    /// Figures per text kind, in kind order.
    pub fn per_kind(&self) -> &[(TriggerKind, KindFigures)] {
        &self.per_kind
    }
    pub fn kind(&self, kind: TriggerKind) -> KindFigures {
        self.per_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, f)| *f)
            .unwrap_or_default()
    }
    /// All kinds pooled: every label counts once.
    pub fn micro(&self) -> KindFigures {
        self.per_kind
            .iter()
            .fold(KindFigures::default(), |acc, (_, f)| KindFigures {
                true_positives: acc.true_positives + f.true_positives,
                false_positives: acc.false_positives + f.false_positives,
                false_negatives: acc.false_negatives + f.false_negatives,
            })
    }
    pub fn micro_f1(&self) -> f64 {
        self.micro().f1()
    }
    /// Mean of the per-kind F1 scores: every kind counts the same.
    pub fn macro_f1(&self) -> f64 {
        mean(self.per_kind.iter().map(|(_, f)| f.f1()))
    }
    pub fn macro_precision(&self) -> f64 {
        mean(self.per_kind.iter().map(|(_, f)| f.precision()))
    }
    pub fn macro_recall(&self) -> f64 {
        mean(self.per_kind.iter().map(|(_, f)| f.recall()))
    }
    pub fn misses(&self) -> &[Miss] {
        &self.misses
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / f64::from(n)
    }
}

/// Runs `detector` over every item of a JSON-lines corpus and compares with its labels.
pub fn evaluate(detector: &Detector, corpus_jsonl: &str) -> Result<Report, EvalError> {
    let items = parse_corpus(corpus_jsonl)?;
    if items.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(Report::from_scored(items.into_iter().map(|item| {
        let got = detector
            .detect(&item.text)
            .into_iter()
            .map(|d| d.kind)
            .collect();
        Scored {
            expected: item.labels.iter().copied().collect(),
            got,
            id: item.id,
            text: item.text,
        }
    })))
}

impl Report {
    /// Figures from messages already scored.
    pub(crate) fn from_scored(scored: impl Iterator<Item = Scored>) -> Report {
        let mut per_kind: Vec<(TriggerKind, KindFigures)> = TriggerKind::TEXT_KINDS
            .iter()
            .map(|k| (*k, KindFigures::default()))
            .collect();
        let mut misses = Vec::new();
        let mut items = 0;
        for s in scored {
            items += 1;
            for (kind, figures) in &mut per_kind {
                match (s.expected.contains(kind), s.got.contains(kind)) {
                    (true, true) => figures.true_positives += 1,
                    (false, true) => figures.false_positives += 1,
                    (true, false) => figures.false_negatives += 1,
                    (false, false) => {}
                }
            }
            if s.expected != s.got {
                misses.push(Miss {
                    id: s.id,
                    expected: s.expected.into_iter().collect(),
                    got: s.got.into_iter().collect(),
                    text: s.text,
                });
            }
        }
        Report {
            items,
            per_kind,
            misses,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} items", self.items)?;
        writeln!(
            f,
            "{:<18} {:>9} {:>7} {:>7} {:>8}",
            "kind", "precision", "recall", "f1", "support"
        )?;
        for (kind, k) in &self.per_kind {
            writeln!(
                f,
                "{:<18} {:>9.3} {:>7.3} {:>7.3} {:>8}",
                kind.as_str(),
                k.precision(),
                k.recall(),
                k.f1(),
                k.support()
            )?;
        }
        let m = self.micro();
        writeln!(
            f,
            "{:<18} {:>9.3} {:>7.3} {:>7.3} {:>8}",
            "micro",
            m.precision(),
            m.recall(),
            m.f1(),
            m.support()
        )?;
        writeln!(
            f,
            "{:<18} {:>9.3} {:>7.3} {:>7.3}",
            "macro",
            self.macro_precision(),
            self.macro_recall(),
            self.macro_f1()
        )?;
        if !self.misses.is_empty() {
            writeln!(f, "\nmisclassified ({}):", self.misses.len())?;
        }
        for miss in &self.misses {
            let names = |kinds: &[TriggerKind]| {
                kinds
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let snippet: String = miss.text.replace('\n', " ").chars().take(110).collect();
            writeln!(
                f,
                "{}\texpected [{}]\tgot [{}]\t{}",
                miss.id,
                names(&miss.expected),
                names(&miss.got),
                snippet
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = include_str!("../../corpus/triggers.jsonl");
    const HOLDOUT: &str = include_str!("../../corpus/triggers-holdout.jsonl");

    #[test]
    fn main_corpus_meets_the_quality_bar() {
        let report = evaluate(&Detector::default(), MAIN).expect("corpus parses");
        println!("{report}");
        assert!(report.items() >= 320);
        assert!(
            report.micro_f1() >= 0.90,
            "micro F1 {:.3}",
            report.micro_f1()
        );
        for (kind, figures) in report.per_kind() {
            assert!(
                figures.precision() >= 0.85,
                "{kind} precision {:.3}",
                figures.precision()
            );
        }
    }

    #[test]
    fn holdout_corpus_generalises() {
        let report = evaluate(&Detector::default(), HOLDOUT).expect("corpus parses");
        println!("{report}");
        assert!(
            report.micro_f1() >= 0.85,
            "holdout micro F1 {:.3}",
            report.micro_f1()
        );
        assert!(
            report.micro().precision() >= 0.85,
            "holdout precision {:.3}",
            report.micro().precision()
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = evaluate(
            &Detector::default(),
            "{\"id\":\"a\",\"text\":\"hi\",\"labels\":[]}\nnot json",
        )
        .expect_err("second line is not JSON");
        assert!(matches!(err, EvalError::BadLine { line: 2, .. }), "{err}");
        assert!(matches!(
            evaluate(&Detector::default(), "\n"),
            Err(EvalError::Empty)
        ));
    }

    #[test]
    fn figures_are_computed_per_kind() {
        let corpus = concat!(
            "{\"id\":\"1\",\"text\":\"I will sue you\",\"labels\":[\"legal_threat\"]}\n",
            "{\"id\":\"2\",\"text\":\"Lovely visit, thanks\",\"labels\":[\"legal_threat\"]}\n",
        );
        let report = evaluate(&Detector::default(), corpus).expect("parses");
        let legal = report.kind(TriggerKind::LegalThreat);
        assert_eq!(
            (
                legal.true_positives,
                legal.false_negatives,
                legal.false_positives
            ),
            (1, 1, 0)
        );
        assert_eq!(report.misses().len(), 1);
        assert!(report.to_string().contains("legal_threat"));
    }
}
