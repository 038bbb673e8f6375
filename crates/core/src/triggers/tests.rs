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
fn benign_senses_of_the_broader_phrases_stay_quiet() {
    let quiet = [
        "My husband is a solicitor, he'll pick up the prescription on Friday.",
        "I'm calling again tomorrow to confirm the time, is that ok?",
        "Your competitor charged me twice, so I'm switching to you!",
        "Our old provider leaked our data last year, so what certifications do you have?",
        "I broke my tooth on a popcorn kernel, can I get an emergency appointment?",
        "We had a small leak under the sink, I put a bucket under it.",
        "Please pass my thanks to the store manager, she went above and beyond.",
        "I'm a journalist at the Evening Post, can I get a quote about your store opening?",
        "Is the admin panel publicly accessible or only via VPN? Asking for a security review.",
        "¿Cuál es vuestra política de devoluciones para productos en oferta?",
        "Ich möchte mich beim Chef für den tollen Service bedanken.",
        "How do I report a phishing email pretending to be from you?",
        "I'd love to leave a review on Google, what's the link?",
        "The smoke alarm keeps chirping, I think it just needs a new battery.",
        "Please don't share my medical records with my employer.",
        "Second time lucky! The new part fits perfectly, thanks.",
        "We're in small claims with our old contractor (not you guys). Could you quote for fixing what they botched?",
        "Can you confirm my refund of $40 went through? The bank shows it as pending.",
        "I'm a nurse myself, so I know the wrong dose can happen, but please double-check it.",
    ];
    for text in quiet {
        assert_eq!(kinds(text), [], "{text}");
    }
}

#[test]
fn broader_phrase_families_fire() {
    let cases = [
        (
            "I'll start a chargeback if this isn't sorted.",
            BillingDispute,
        ),
        ("Please reverse the charge from Tuesday.", BillingDispute),
        (
            "I still haven't got my refund for order 4471.",
            BillingDispute,
        ),
        (
            "Still waiting on the $120 refund I was promised.",
            BillingDispute,
        ),
        (
            "Why has £49.99 come out of my account when I cancelled in May?",
            BillingDispute,
        ),
        (
            "There's a hissing noise from the gas meter and a smell.",
            SafetyRisk,
        ),
        (
            "The CO detector has gone off twice since your visit.",
            SafetyRisk,
        ),
        (
            "Your electrician left bare wires hanging out of the wall.",
            SafetyRisk,
        ),
        ("You sent me another patient's test results.", SafetyRisk),
        (
            "Someone logged into our admin account from an IP abroad.",
            SafetyRisk,
        ),
        (
            "You gave my son the adult dose of amoxicillin.",
            ClinicalDispute,
        ),
        (
            "The technician flooded our basement and ruined the carpet.",
            ClinicalDispute,
        ),
        (
            "After the extraction my lip is still numb. I think the nerve was damaged.",
            ClinicalDispute,
        ),
        (
            "I'm writing again because nobody has replied.",
            RepeatContact,
        ),
        (
            "This is the third time I'm emailing about this.",
            RepeatContact,
        ),
        ("Three emails, two chats, zero answers.", RepeatContact),
        (
            "Our attorney will file in county court next month.",
            LegalThreat,
        ),
        (
            "We've retained outside counsel regarding the downtime.",
            LegalThreat,
        ),
        (
            "I want the person who runs this clinic to phone me.",
            ManagerRequest,
        ),
        (
            "I'd like the complaint passed to your operations director.",
            ManagerRequest,
        ),
        ("Posting about this on Hacker News today.", PublicComplaint),
        (
            "I'm going to tell every mum in my NCT group to avoid you.",
            PublicComplaint,
        ),
        (
            "We will be notifying the Data Protection Commission.",
            Regulator,
        ),
        (
            "If he shows his face here again he'll get a beating.",
            Threat,
        ),
        ("ARE YOU EVEN LISTENING TO ME?!", Anger),
    ];
    for (text, kind) in cases {
        assert!(kinds(text).contains(&kind), "{text}: {:?}", kinds(text));
    }
}

#[test]
fn spanish_french_and_german_cover_the_strong_kinds() {
    let cases = [
        ("Voy a llevar esto a los tribunales.", LegalThreat),
        ("Je vais saisir la justice.", LegalThreat),
        ("Ich werde einen Anwalt einschalten.", LegalThreat),
        ("Te voy a partir la cara.", Threat),
        ("Je veux parler à votre supérieur.", ManagerRequest),
        (
            "Bitte leiten Sie das an die Geschäftsführung weiter.",
            ManagerRequest,
        ),
        (
            "Voy a contar en Instagram cómo tratáis a los clientes.",
            PublicComplaint,
        ),
        (
            "Ich habe eine Beschwerde bei der Zahnärztekammer eingereicht.",
            Regulator,
        ),
        ("Si no me devuelven el depósito, iré a la OCU.", Regulator),
        (
            "J'ai été prélevé deux fois pour la même commande.",
            BillingDispute,
        ),
        (
            "Ich habe schon dreimal angerufen und niemand ruft zurück.",
            RepeatContact,
        ),
        (
            "El fontanero dejó un cable pelado junto a la ducha.",
            SafetyRisk,
        ),
        (
            "Nous allons saisir la CNIL : vos serveurs ont exposé les données de nos clients.",
            SafetyRisk,
        ),
        ("Le dentiste s'est trompé de dent.", ClinicalDispute),
        (
            "Meine Tochter hat eine falsche Dosis bekommen.",
            ClinicalDispute,
        ),
    ];
    for (text, kind) in cases {
        assert!(kinds(text).contains(&kind), "{text}: {:?}", kinds(text));
    }
}

#[test]
fn evidence_slices_the_original_and_covers_the_trigger_words() {
    let cases = [
        (
            "Refund the $4,800 charge by Friday, thanks.",
            BillingDispute,
            "Refund the $4,800 charge",
        ),
        (
            "I still haven't got my refund!!",
            BillingDispute,
            "haven't got my refund",
        ),
        (
            "This is the THIRD time I'm emailing.",
            RepeatContact,
            "THIRD time",
        ),
        ("Ça sent le gaz dans la cuisine.", SafetyRisk, "sent le gaz"),
        (
            "Your tech DRILLED THROUGH a water pipe.",
            ClinicalDispute,
            "DRILLED THROUGH a water pipe",
        ),
        ("Hablaré con mi abogado mañana.", LegalThreat, "mi abogado"),
    ];
    for (text, kind, words) in cases {
        let detections = DETECTOR.detect(text);
        let found = detections
            .iter()
            .find(|d| d.kind == kind)
            .unwrap_or_else(|| panic!("{kind} in {text}: {detections:?}"));
        for e in &found.evidence {
            assert_eq!(e.text, &text[e.start..e.end], "{text}");
        }
        assert!(
            found.evidence.iter().any(|e| e.text.contains(words)),
            "{text}: {:?}",
            found.evidence
        );
    }
}

#[test]
fn detector_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
}

/// A 16-letter word, lowercase with no letter doubled (so normalising leaves it as it is),
/// whose `word_hash` equals `target`'s: a token crafted to collide with a lexicon word.
///
/// Two eight-byte chunks `a`, `b` hash to `((a·K).rotl(5) ^ b)·K`, so for a target hash `H`
/// and any `b`, `a = ((H·K⁻¹ ^ b).rotr(5))·K⁻¹`. Byte `k` of `a` depends only on bytes
/// `0..=k+1` of `b` (for `k < 7`), so a depth-first search over `b`, byte by byte, prunes
/// every `b` whose `a` stops being lowercase letters.
fn forge_collision(target: &str) -> String {
    use super::normalize::word_hash;
    // A one-byte word hashes to its byte times the multiplier.
    let k = word_hash(&[1]);
    let mut k_inv = k;
    for _ in 0..6 {
        k_inv = k_inv.wrapping_mul(2u64.wrapping_sub(k.wrapping_mul(k_inv)));
    }
    assert_eq!(k.wrapping_mul(k_inv), 1);
    let t = word_hash(target.as_bytes()).wrapping_mul(k_inv);
    let first = |b: &[u8; 8]| {
        ((t ^ u64::from_le_bytes(*b)).rotate_right(5))
            .wrapping_mul(k_inv)
            .to_le_bytes()
    };

    fn search(
        b: &mut [u8; 8],
        filled: usize,
        first: &dyn Fn(&[u8; 8]) -> [u8; 8],
    ) -> Option<[u8; 16]> {
        if filled == 8 {
            let a = first(b);
            let word: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            let plain =
                word.iter().all(u8::is_ascii_lowercase) && word.windows(2).all(|w| w[0] != w[1]);
            return plain.then(|| word.try_into().expect("16 bytes"));
        }
        for c in b'a'..=b'z' {
            if filled > 0 && b[filled - 1] == c {
                continue;
            }
            b[filled] = c;
            b[filled + 1..].fill(0);
            // Byte `filled - 1` of `a` is settled once bytes `0..=filled` of `b` are.
            if (1..8).contains(&filled) {
                let a = first(b);
                let at = filled - 1;
                if !a[at].is_ascii_lowercase() || (at > 0 && a[at] == a[at - 1]) {
                    continue;
                }
            }
            if let Some(word) = search(b, filled + 1, first) {
                return Some(word);
            }
        }
        None
    }
    let word = search(&mut [0; 8], 0, &first).expect("some 16-letter word collides");
    String::from_utf8(word.to_vec()).expect("ASCII")
}

#[test]
fn a_token_crafted_to_share_a_trigger_words_hash_is_not_that_word() {
    use super::normalize::{normalize, word_hash};
    // "litigation" is a long word (compared byte by byte), "sue" a short one (told apart by
    // its hash alone, which a longer token cannot take).
    for (target, sentence) in [
        (
            "litigation",
            "We are now considering {} against the practice.",
        ),
        ("sue", "I will {} you for this."),
    ] {
        let forged = forge_collision(target);
        let n = normalize(&forged);
        assert_eq!(
            n.token(0),
            forged,
            "normalising leaves the forged word as it is"
        );
        assert_eq!(
            n.tokens[0].hash,
            word_hash(target.as_bytes()),
            "{forged} collides with {target}"
        );
        let real = sentence.replace("{}", target);
        assert!(
            kinds(&real).contains(&LegalThreat),
            "{real}: {:?}",
            kinds(&real)
        );
        let crafted = sentence.replace("{}", &forged);
        assert_eq!(kinds(&crafted), [], "{crafted}");
    }
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

proptest! {
    // Arbitrary strings are long and mostly noise: fewer cases keep the debug suite quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any text at all, control characters and broken UTF-8 (read lossily, as mail is)
    /// included: evidence always lies on character boundaries inside the text.
    #[test]
    fn detect_takes_any_text_and_its_evidence_stays_inside_it(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        text in any::<String>(),
    ) {
        for text in [String::from_utf8_lossy(&bytes).into_owned(), text] {
            for d in DETECTOR.detect(&text) {
                for e in d.evidence {
                    prop_assert!(e.start < e.end && e.end <= text.len());
                    prop_assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
                    prop_assert_eq!(&text[e.start..e.end], e.text.as_str());
                }
            }
        }
    }
}

/// Messages written for these tests, one pattern of issue 24 each: `(text, every kind
/// expected)`; the detector must find exactly these kinds.
fn assert_exact(cases: &[(&str, &[TriggerKind])]) {
    let mut wrong = Vec::new();
    for (text, expected) in cases {
        let mut expected = expected.to_vec();
        expected.sort();
        let got = kinds(text);
        if got != expected {
            wrong.push(format!("{text}\n  expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_kind_is_judged_on_its_own() {
    // A loud trigger (legal, regulator, safety) beside a quieter one (billing, clinical).
    assert_exact(&[
        (
            "I'm taking you to court, and I also want the double charge refunded.",
            &[LegalThreat, BillingDispute],
        ),
        (
            "I have reported you to the dental board. The crown you fitted cracked the tooth next to it.",
            &[Regulator, ClinicalDispute],
        ),
        (
            "There's a smell of gas since your visit, and you charged me for a repair that was never done.",
            &[SafetyRisk, BillingDispute],
        ),
        (
            "Customer demands manager, threatening BBB.",
            &[ManagerRequest, Regulator],
        ),
        (
            "asks for a manager and threatens BBB",
            &[ManagerRequest, Regulator],
        ),
    ]);
}

#[test]
fn suppression_stays_in_the_clause_it_belongs_to() {
    assert_exact(&[
        // Negation in another clause.
        (
            "I'm not angry, but I want a refund for the double charge.",
            &[BillingDispute],
        ),
        // Praise elsewhere in the letter.
        (
            "Your receptionist was lovely. However, you charged me twice and I want one of them refunded.",
            &[BillingDispute],
        ),
        // The agent's own action beside what the caller said.
        (
            "Phone note: agent offered a callback from the supervisor; caller said he will report us to trading standards.",
            &[Regulator],
        ),
        // An office manager for paperwork, and a real request in the next sentence.
        (
            "Please ask the office manager to send the invoice. Separately, I want to speak to a supervisor about this.",
            &[ManagerRequest],
        ),
    ]);
}

#[test]
fn reported_speech_in_phone_notes_counts() {
    assert_exact(&[
        (
            "Phone note: caller was shouting and swore at the agent twice; says the crown fell out after two days and cut her tongue.",
            &[Anger, ClinicalDispute],
        ),
        (
            "Phone note: customer says his lawyer has advised him to file a claim over the flooded kitchen our fitter caused.",
            &[LegalThreat, ClinicalDispute],
        ),
        (
            "Phone note: caller disputes the 80 pound call-out fee, says the engineer never turned up.",
            &[BillingDispute],
        ),
    ]);
}

#[test]
fn paraphrases_without_an_anchor_word_are_found() {
    assert_exact(&[
        (
            "After your engineer serviced the boiler, water came through the kitchen ceiling and it collapsed.",
            &[ClinicalDispute],
        ),
        (
            "Honestly I don't see the point of anything any more. I won't be around to pay this bill anyway.",
            &[Threat],
        ),
        ("I know where your receptionist parks her car.", &[Threat]),
        (
            "I want this looked at by someone above your pay grade.",
            &[ManagerRequest],
        ),
        (
            "Everyone who follows me is going to hear exactly how you treated my mother.",
            &[PublicComplaint],
        ),
        // Going public with no platform named (a post is implied, not word of mouth).
        (
            "I'll make sure the whole neighbourhood knows what you did.",
            &[PublicComplaint],
        ),
        (
            "I just received a letter from you with another patient's X-rays inside.",
            &[SafetyRisk],
        ),
        (
            "Your portal is showing me somebody else's prescriptions and home address.",
            &[SafetyRisk],
        ),
        (
            "I got a login code I never requested and then the email address on my account was changed.",
            &[SafetyRisk],
        ),
        (
            "Hello, I think I was billed for two cleanings but only had one, would you mind correcting it?",
            &[BillingDispute],
        ),
        (
            "I'll hold off paying the invoice until the extra line for the missed visit is removed.",
            &[BillingDispute],
        ),
        (
            "I emailed on the 3rd, the 9th and the 15th and still have no answer about the leak.",
            &[RepeatContact],
        ),
        (
            "This is my fourth email about the broken heater.",
            &[RepeatContact],
        ),
    ]);
}

#[test]
fn false_alarms_stay_quiet() {
    assert_exact(&[
        // A trigger word as a topic.
        (
            "We're writing a blog post about how small clinics handle bad reviews, could we interview you?",
            &[],
        ),
        // A count that is not of contacts with us.
        (
            "This is the third time I've had to reset my password this week. Is login broken?",
            &[],
        ),
        // Hearsay about others.
        (
            "My neighbour said she sued her old builder. Anyway, can I book a quote for a new kitchen?",
            &[],
        ),
        // A quote and a joke.
        (
            "Ha, my son says he'll 'call the manager' on me if I don't buy ice cream. Booking for Tuesday please.",
            &[],
        ),
        // Harm the message says we did not cause.
        (
            "I chipped my tooth on a fork last night, nothing to do with you, can I come in this week?",
            &[],
        ),
        // Matters already resolved.
        (
            "The double charge from last month was refunded, thank you, all sorted now.",
            &[],
        ),
        (
            "Last year I threatened to report you to trading standards, but you fixed everything and I'm a happy customer now.",
            &[],
        ),
    ]);
}

#[test]
fn a_long_email_keeps_the_trigger_in_its_middle() {
    let filler = "We moved house in the spring and the new kitchen is lovely, the children are settling in at school and the garden finally has some colour in it. ";
    let text = format!(
        "{}You charged my card twice for the March visit and I want one of the charges refunded. {}",
        filler.repeat(3),
        filler.repeat(3)
    );
    assert!(kinds(&text).contains(&BillingDispute), "{:?}", kinds(&text));
}

#[test]
fn learned_detections_show_the_messages_own_words() {
    // No rule matches these; the evidence is the words that raised the score.
    for text in [
        "I know where your receptionist parks her car.",
        "Dr Núñez told me it was fine, now my whole jaw is swollen and I can't eat since the extraction.",
        "My podcast has an episode next week about terrible customer service. Guess who the main story is.",
    ] {
        let explained = DETECTOR.explain(text);
        let learned: Vec<&Explanation> =
            explained.iter().filter(|e| e.detected && !e.rule).collect();
        assert!(!learned.is_empty(), "{text}: {explained:?}");
        for e in learned {
            assert!(!e.evidence.is_empty(), "{text}: {e:?}");
            for piece in &e.evidence {
                assert!(text.is_char_boundary(piece.start) && text.is_char_boundary(piece.end));
                assert_eq!(&text[piece.start..piece.end], piece.text, "{text}");
            }
        }
        // `detect` shows the same as `explain` for what it finds.
        for d in DETECTOR.detect(text) {
            let e = explained.iter().find(|e| e.kind == d.kind).expect("explained");
            assert!(e.detected);
            assert_eq!(d.evidence, e.evidence, "{text}");
        }
    }
}

#[test]
fn explain_covers_every_kind_with_scores_in_range() {
    let explained = DETECTOR.explain("I will sue you for this.");
    assert_eq!(explained.len(), TriggerKind::TEXT_KINDS.len());
    for e in &explained {
        assert!((0.0..=1.0).contains(&e.score) && (0.0..=1.0).contains(&e.threshold));
        if e.detected {
            assert!(e.score >= e.threshold, "{e:?}");
        }
    }
    let legal = explained
        .iter()
        .find(|e| e.kind == LegalThreat)
        .expect("every kind");
    assert!(legal.detected && legal.rule);
    assert_eq!(legal.evidence[0].text, "I will sue you");
}

#[test]
fn tenant_phrases_fire_even_where_the_scorer_disagrees() {
    let extra = BTreeMap::from([(Threat, vec!["pineapple protocol".to_owned()])]);
    let detector = Detector::new(&extra);
    let text = "Invoking the pineapple protocol now.";
    let found = detector.detect(text);
    let threat = found
        .iter()
        .find(|d| d.kind == Threat)
        .expect("tenant phrase fires");
    assert_eq!(threat.evidence[0].text, "pineapple protocol");
    assert!(threat.confidence >= 0.9);
    // Negated, the tenant's phrase is silent like any other.
    assert!(detector
        .detect("No need for the pineapple protocol.")
        .iter()
        .all(|d| d.kind != Threat));
}

#[test]
fn the_seed_examples_of_the_issue_fire() {
    let cases: [(&str, &[TriggerKind]); 3] = [
        (
            "Customer demands manager, threatening BBB",
            &[ManagerRequest, Regulator],
        ),
        (
            "asks for a manager and threatens BBB",
            &[ManagerRequest, Regulator],
        ),
        (
            "He's going to the local TV station and the newspaper.",
            &[PublicComplaint],
        ),
    ];
    for (text, expected) in cases {
        let got = kinds(text);
        assert!(expected.iter().all(|k| got.contains(k)), "{text}: {got:?}");
    }
}

/// The second blind holdout (see corpus/SPLITS.md): scored once at 0.918 micro-F1 when the
/// detector was final. A regression guard only; never tune against it.
#[test]
fn the_second_blind_holdout_holds_its_score() {
    let report = evaluate(
        &Detector::default(),
        include_str!("../../corpus/triggers-holdout-blind-2.jsonl"),
    )
    .expect("the holdout parses");
    assert_eq!(report.items(), 600);
    assert!(report.micro_f1() >= 0.90, "micro-F1 {}", report.micro_f1());
    for (kind, figures) in report.per_kind() {
        assert!(
            figures.precision() >= 0.85,
            "{kind:?}: precision {}",
            figures.precision()
        );
    }
}
