//! Evaluates the trigger detector on a labelled corpus and prints the report.
//!
//! `cargo run -p ladder-core --example trigger_eval [corpus.jsonl]` (default: the repo corpus).

use ladder_core::triggers::{evaluate, Detector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = match std::env::args().nth(1) {
        Some(path) => {
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?
        }
        None => include_str!("../corpus/triggers.jsonl").to_owned(),
    };
    let report = evaluate(&Detector::default(), &corpus)?;
    println!("{report}");
    Ok(())
}
