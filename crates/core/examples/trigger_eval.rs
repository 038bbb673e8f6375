//! Evaluates the trigger detector on a labelled corpus and prints the report.
//!
//! `cargo run -p ladder-core --example trigger_eval [corpus.jsonl] [--explain]`
//! (default: the repo corpus). With `--explain`, every misclassified item is followed by
//! what was detected and the words that showed it.

use ladder_core::triggers::{evaluate, Detector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let explain = args.iter().any(|a| a == "--explain");
    let corpus = match args.iter().find(|a| !a.starts_with("--")) {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
        }
        None => include_str!("../corpus/triggers.jsonl").to_owned(),
    };
    let detector = Detector::default();
    let report = evaluate(&detector, &corpus)?;
    println!("{report}");
    if explain {
        for miss in report.misses() {
            println!("{}:", miss.id);
            for d in detector.detect(&miss.text) {
                let words: Vec<&str> = d.evidence.iter().map(|e| e.text.as_str()).collect();
                println!("  {} {:.2} {:?}", d.kind.as_str(), d.confidence, words);
            }
        }
    }
    Ok(())
}
