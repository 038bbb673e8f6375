//! Prints how the detector judges each kind in a message: score, threshold, evidence.
//!
//! `cargo run -p ladder-core --example explain_triggers -- "text" ["more text"…]`
//! (the server's `ladder triggers explain` prints the same).

use ladder_core::triggers::Detector;

fn main() {
    let detector = Detector::default();
    for text in std::env::args().skip(1) {
        println!("{text}");
        for e in detector.explain(&text) {
            let words: Vec<&str> = e.evidence.iter().map(|e| e.text.as_str()).collect();
            println!(
                "  {} {:<17} {:.2} (from {:.2}){} {:?}",
                if e.detected { "*" } else { " " },
                e.kind.as_str(),
                e.score,
                e.threshold,
                if e.rule { " rule" } else { "" },
                words
            );
        }
    }
}
