//! Trains the learned layer of the trigger detector and writes its weights.
//!
//! `cargo run -p ladder-core --release --example train_triggers [--dry-run] [--epochs N]
//! [--lr X] [--l2 X] [--positive-weight X] [--min-precision X] [--families N] [--rule-gated BITS]
//! [--averaged-epochs N]`
//!
//! Training data: `corpus/triggers.jsonl` and every `corpus/triggers-train-*.jsonl`, in
//! name order. The holdouts (`corpus/triggers-holdout*.jsonl`) are only scored, never
//! trained on. Writes `src/triggers/model.bin` (unless `--dry-run`) and
//! `corpus/TRAINING.txt` (the figures), and prints both reports.

use std::collections::BTreeMap;
use std::path::Path;

use ladder_core::triggers::training::{train, TrainConfig};
use ladder_core::triggers::{evaluate, Detector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus_dir = root.join("corpus");
    let mut args = std::env::args().skip(1);
    let mut config = TrainConfig::default();
    let mut dry_run = false;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--no-composites" => config.composites = false,
            "--epochs" => config.epochs = value()?.parse()?,
            "--lr" => config.learning_rate = value()?.parse()?,
            "--l2" => config.l2 = value()?.parse()?,
            "--positive-weight" => config.positive_weight = value()?.parse()?,
            "--min-precision" => config.min_precision = value()?.parse()?,
            "--families" => config.families = value()?.parse()?,
            "--rule-gated" => config.rule_gated = value()?.parse()?,
            "--averaged-epochs" => config.averaged_epochs = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(&corpus_dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n == "triggers.jsonl" || (n.starts_with("triggers-train-") && n.ends_with(".jsonl"))
        })
        .collect();
    names.sort();
    let mut holdouts: Vec<String> = std::fs::read_dir(&corpus_dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("triggers-holdout") && n.ends_with(".jsonl") && !n.contains("blind")
        })
        .collect();
    holdouts.sort();
    let texts: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(corpus_dir.join(n)))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let trained = train(&refs, &config)?;
    let mut out = String::new();
    out.push_str(&format!(
        "training data: {}\nconfig: {config:?}\n\n",
        names.join(", ")
    ));
    out.push_str("== validation (out of fold) ==\n");
    out.push_str(&summary(&trained.validation.to_string()));
    out.push_str("\n== resubstitution (final model, its own training data) ==\n");
    out.push_str(&summary(&trained.resubstitution.to_string()));
    out.push_str("\nthresholds (logit: alone / with a rule hit / with a strong rule hit):");
    for (kind, [t, r, s]) in &trained.thresholds {
        out.push_str(&format!(" {}={t:.2}/{r:.2}/{s:.2}", kind.as_str()));
    }
    out.push('\n');
    let weights: &'static [u8] = Box::leak(trained.weights.clone().into_boxed_slice());
    let detector =
        Detector::with_weights(&BTreeMap::new(), weights).ok_or("weights do not load")?;
    let rules = Detector::rules_only(&BTreeMap::new());
    for name in names.iter().chain(&holdouts) {
        let corpus = std::fs::read_to_string(corpus_dir.join(name))?;
        let report = evaluate(&rules, &corpus)?;
        let m = report.micro();
        out.push_str(&format!(
            "rules alone on {name}: precision {:.3} recall {:.3} f1 {:.3}\n",
            m.precision(),
            m.recall(),
            m.f1()
        ));
    }
    for h in &holdouts {
        let corpus = std::fs::read_to_string(corpus_dir.join(h))?;
        let report = evaluate(&detector, &corpus)?;
        out.push_str(&format!("\n== holdout {h} ==\n"));
        out.push_str(&summary(&report.to_string()));
    }
    print!("{out}");
    if std::env::var_os("SHOW_MISSES").is_some() {
        println!("{}", trained.validation);
    }
    if !dry_run {
        std::fs::write(root.join("src/triggers/model.bin"), &trained.weights)?;
        std::fs::write(corpus_dir.join("TRAINING.txt"), &out)?;
        eprintln!("wrote src/triggers/model.bin and corpus/TRAINING.txt");
    }
    Ok(())
}

/// A report without its list of misclassified messages.
fn summary(report: &str) -> String {
    report
        .split("\nmisclassified")
        .next()
        .unwrap_or(report)
        .to_owned()
}
