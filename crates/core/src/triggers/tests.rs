use std::collections::BTreeMap;
use std::sync::LazyLock;

use proptest::prelude::*;

use super::*;
use TriggerKind::*;

/// Built once: compiling the automaton is the expensive part, and unoptimised in tests.
static DETECTOR: LazyLock<Detector> = LazyLock::new(Detector::default);

fn kinds(text: &str) -> Vec<TriggerKind> {
    DETECTOR.detect(text).into_iter().map(|d| d.kind).collect()
}

#[test]
fn hard_negatives_stay_quiet() {
    let quiet = [
        "I'm not going to sue, I just want an explanation.",
        "No need to speak to a manager, the technician sorted it out.",
        "If this were serious I'd call a lawyer, but it's only a slow drain.",
        "Sue from billing was lovely on the phone.",
        "Can we move my cleaning? I have my lawyer appointment on Tuesday.",
        "I'll leave you a great Google review tonight!",
        "The filling hurt a bit but that's expected, right?",
        "My back is killing me after that chair lol, the crown looks great.",
        "I'd kill for a Saturday slot.",
        "What is your refund policy for unused sessions?",
        "Thanks, the refund came through this morning!",
        "I'm a lawyer myself, please send the consent form to review.",
        "BEST SERVICE EVER!!! Thank you so much!",
        "URGENT: need the invoice by EOD please.",
        "I'm a bit let down nobody rang me yesterday, could someone call today?",
        "Please thank the practice manager for sorting my insurance forms.",
        "Do you have a process for data breaches? Our security team asks.",
        "Could I book my third appointment for the implant series?",
        "Found you on Google, your reviews are great. Any openings?",
    ];
    for text in quiet {
        assert_eq!(kinds(text), [], "{text}");
    }
}

#[test]
fn each_strong_kind_fires_on_plain_and_indirect_forms() {
    let cases = [
        ("I will sue you for this.", LegalThreat),
        ("You'll be hearing from my attorney.", LegalThreat),
        (
            "Just so you know, my brother-in-law practises law.",
            LegalThreat,
        ),
        ("If I see him again he'd better watch himself.", Threat),
        (
            "Someone's going to get hurt if I have to wait again.",
            Threat,
        ),
        ("You pulled the wrong tooth!", ClinicalDispute),
        (
            "Your plumber flooded the basement and ruined the carpet.",
            ClinicalDispute,
        ),
        ("I want to speak to a manager.", ManagerRequest),
        (
            "Put me through to someone who can actually make a decision.",
            ManagerRequest,
        ),
        ("I'm going to post a 1-star review.", PublicComplaint),
        (
            "This is going straight on Facebook so people know.",
            PublicComplaint,
        ),
        ("I will report you to the dental board.", Regulator),
        (
            "I'm sure the Medical Board would be very interested in this.",
            Regulator,
        ),
        (
            "You charged me twice, please refund one of them.",
            BillingDispute,
        ),
        (
            "Hi, I think the no-show fee was a mistake, could you take that off please?",
            BillingDispute,
        ),
        ("There's a smell of gas since your visit.", SafetyRisk),
        (
            "Someone got into my account and changed my password.",
            SafetyRisk,
        ),
        (
            "This is the third time I'm emailing about this.",
            RepeatContact,
        ),
        ("Nobody has got back to me.", RepeatContact),
        ("You are USELESS, absolutely PATHETIC service!!!", Anger),
    ];
    for (text, kind) in cases {
        assert!(kinds(text).contains(&kind), "{text}: {:?}", kinds(text));
    }
}

#[test]
fn spanish_french_and_german_fire() {
    let cases = [
        (
            "Si no me devuelven el dinero, los voy a demandar.",
            LegalThreat,
        ),
        ("Quiero hablar con el supervisor.", ManagerRequest),
        ("Huele a gas en toda la casa.", SafetyRisk),
        ("Mon avocat va vous contacter.", LegalThreat),
        ("Je porterai plainte auprès de la CNIL.", Regulator),
        ("Vous m'avez débité deux fois.", BillingDispute),
        ("Ich werde Sie verklagen.", LegalThreat),
        (
            "Ich möchte mit Ihrem Vorgesetzten sprechen.",
            ManagerRequest,
        ),
        ("Es riecht nach Gas im Keller.", SafetyRisk),
    ];
    for (text, kind) in cases {
        assert!(kinds(text).contains(&kind), "{text}: {:?}", kinds(text));
    }
}

#[test]
fn quoted_reply_text_is_ignored() {
    let text = "Thanks, all sorted now!\n\nOn Mon, 3 Mar 2025 at 09:00, Me <me@example.com> wrote:\n> I will sue you and report you to the BBB\n> Third time asking!";
    assert_eq!(kinds(text), []);
    let inline = "> I want a manager NOW\nIgnore that, wrong thread. How do I export to PDF?";
    assert_eq!(kinds(inline), []);
}

#[test]
fn evidence_points_at_the_exact_words() {
    let text = "Honestly — I'm going to SUE you. Ma prochaine étape: mon AVOCAAAT.";
    let detections = DETECTOR.detect(text);
    let legal = detections
        .iter()
        .find(|d| d.kind == LegalThreat)
        .expect("legal threat found");
    let pieces: Vec<&str> = legal
        .evidence
        .iter()
        .map(|e| &text[e.start..e.end])
        .collect();
    assert_eq!(pieces, ["I'm going to SUE you", "mon AVOCAAAT"]);
    for e in &legal.evidence {
        assert_eq!(e.text, &text[e.start..e.end]);
    }
    let refund = "Refuuund the double charge pls";
    let d = DETECTOR.detect(refund);
    let billing = d
        .iter()
        .find(|d| d.kind == BillingDispute)
        .expect("billing dispute found");
    assert_eq!(
        &refund[billing.evidence[0].start..billing.evidence[0].end],
        "Refuuund the double charge"
    );
}

#[test]
fn detections_are_one_per_kind_and_sorted() {
    let text =
        "THIRD time emailing. I want a refund, I'll sue you, and get me your MANAGER. You idiots!!";
    let detections = DETECTOR.detect(text);
    let got: Vec<TriggerKind> = detections.iter().map(|d| d.kind).collect();
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(got, sorted);
    assert!(got.contains(&LegalThreat) && got.contains(&Anger) && got.contains(&RepeatContact));
    assert!(detections
        .iter()
        .all(|d| d.confidence > 0.0 && d.confidence <= 1.0));
}

#[test]
fn tenant_phrases_fire_their_kind() {
    let extra = BTreeMap::from([(PublicComplaint, vec!["Whinge Weekly".to_owned()])]);
    let detector = Detector::new(&extra);
    let text = "I'm writing to WHINGE WEEKLY about you";
    let found = detector.detect(text);
    let public = found
        .iter()
        .find(|d| d.kind == PublicComplaint)
        .expect("tenant phrase fires");
    assert_eq!(
        &text[public.evidence[0].start..public.evidence[0].end],
        "WHINGE WEEKLY"
    );
    assert!(DETECTOR
        .detect(text)
        .iter()
        .all(|d| d.kind != PublicComplaint));
}

#[test]
fn stretched_letters_accents_and_misspellings_are_handled() {
    assert!(kinds("i'm gonna suuue youuu").contains(&LegalThreat));
    assert!(kinds("ill be calling my laywer").contains(&LegalThreat));
    assert!(kinds("I want to speak to your supervisior").contains(&ManagerRequest));
    assert!(kinds("Exijo el REEMBOLSO ya").contains(&BillingDispute));
    assert!(kinds("Ich warte auf die Rückerstattung").contains(&BillingDispute));
}

#[test]
fn detector_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
}

proptest! {
    #[test]
    fn detect_never_panics_and_evidence_slices_the_input(text in "\\PC{0,300}") {
        for d in DETECTOR.detect(&text) {
            for e in d.evidence {
                prop_assert!(e.start < e.end && e.end <= text.len());
                prop_assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
                prop_assert_eq!(&text[e.start..e.end], e.text.as_str());
            }
        }
    }

    #[test]
    fn detect_handles_trigger_words_among_arbitrary_text(
        a in "\\PC{0,40}", b in "\\PC{0,40}", word in prop::sample::select(vec!["sue", "REFUND", "gas", ">", "wrote:", "f***", "ÉÈ", "’", "!!"])
    ) {
        let text = format!("{a} {word} {b}");
        for d in DETECTOR.detect(&text) {
            for e in d.evidence {
                prop_assert_eq!(&text[e.start..e.end], e.text.as_str());
            }
        }
    }
}
