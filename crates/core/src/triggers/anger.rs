//! Anger: overt markers only, as the annotation guide asks — insults, profanity, scornful
//! exclamations, fury words, shouted capitals and "!!!". Civil frustration ("a bit let
//! down") scores nothing, and capitals with only happy words ("BEST SERVICE EVER!!") are
//! excitement, not anger.
//!
//! A general sentiment model (VADER) was considered and left out: its negativity fires on
//! civil frustration, which the guide says is not anger, and the Rust port is unmaintained.

use super::normalize::Normalized;

/// Lexicon of anger markers with their weight; `+` marks a prefix.
pub(crate) const ANGER_WORDS: &[(&str, f32)] = &[
    // Insults and profanity.
    ("idiot+", 0.6),
    ("moron+", 0.6),
    ("imbecile+", 0.6),
    ("stupid", 0.45),
    ("dumb", 0.45),
    ("f*+", 0.6),
    ("fuck+", 0.6),
    ("fck+", 0.6),
    ("fuk+", 0.6),
    ("shit+", 0.6),
    ("sh*t", 0.6),
    ("bullshit", 0.6),
    ("crap", 0.45),
    ("damn", 0.3),
    ("wtf", 0.45),
    ("screw you", 0.6),
    ("pissed", 0.6),
    ("bastard+", 0.6),
    ("bloody", 0.3),
    ("what the hell", 0.45),
    ("clueless", 0.45),
    ("incompetent", 0.45),
    ("incompetence", 0.45),
    ("useless", 0.45),
    ("pathetic", 0.45),
    ("clown+", 0.45),
    ("cowboy+", 0.3),
    ("the lot of you", 0.3),
    ("bunch of", 0.15),
    ("amateurs", 0.3),
    ("amateur hour", 0.45),
    ("muppets", 0.45),
    ("shambles", 0.3),
    ("complete and utter", 0.15),
    ("shambolic", 0.3),
    ("farce", 0.3),
    ("laughable", 0.3),
    ("rip off", 0.3),
    ("ripoff", 0.3),
    ("con artists", 0.45),
    ("jokers", 0.3),
    ("drones", 0.3),
    ("lazy", 0.3),
    ("liars", 0.45),
    ("thieves", 0.45),
    ("thief", 0.45),
    ("crooks", 0.45),
    ("scam", 0.3),
    ("theft", 0.3),
    ("garbage", 0.3),
    ("rubbish", 0.3),
    ("joke", 0.3),
    ("a joke", 0.15),
    ("absolute joke", 0.15),
    ("what a joke", 0.15),
    ("disgrace+", 0.6),
    // Reported in a phone note: what the caller did.
    ("swore at", 0.6),
    ("swearing at", 0.6),
    ("sworn at", 0.6),
    ("shouting at", 0.45),
    ("shouted at", 0.45),
    ("was shouting", 0.45),
    ("screaming at", 0.6),
    ("screamed at", 0.6),
    ("yelling at", 0.6),
    ("yelled at", 0.6),
    ("hurled abuse", 0.6),
    ("verbally abusive", 0.6),
    // Fury words.
    ("furious", 0.6),
    ("livid", 0.6),
    ("fuming", 0.6),
    ("outraged", 0.6),
    ("disgusted", 0.6),
    ("disgusting", 0.6),
    ("enraged", 0.6),
    ("seething", 0.6),
    ("incensed", 0.6),
    ("sick and tired", 0.45),
    ("fed up", 0.3),
    ("had enough", 0.3),
    // Scorn.
    ("ridiculous", 0.3),
    ("unacceptable", 0.3),
    ("unbelievable", 0.3),
    ("shocking", 0.3),
    ("appalling", 0.3),
    ("worst", 0.3),
    ("kidding me", 0.45),
    ("are you kidding", 0.45),
    ("are you serious", 0.3),
    ("how dare you", 0.45),
    ("shame on you", 0.45),
    ("get your act together", 0.45),
    ("do you people even", 0.45),
    ("is anyone even", 0.3),
    ("you people", 0.3),
    ("how many times", 0.3),
    ("for god sake", 0.3),
    ("for gods sake", 0.3),
    ("seriously", 0.15),
    ("terrible", 0.15),
    ("horrible", 0.15),
    ("awful", 0.15),
    // Spanish, French, German.
    ("verguenza", 0.3),
    ("inutiles", 0.45),
    ("incompetentes", 0.45),
    ("estafa", 0.3),
    ("idiotas", 0.6),
    ("honteux", 0.3),
    ("scandaleux", 0.3),
    ("inadmissible", 0.3),
    ("incompetents", 0.45),
    ("unverschamt", 0.3),
    ("frechheit", 0.45),
    ("unfassbar", 0.3),
    ("miserabel+", 0.3),
    ("skandal+", 0.3),
];

/// Happy words: capitals around them are excitement.
pub(crate) const POSITIVE_WORDS: &[&str] = &[
    "best",
    "amazing",
    "love+",
    "thank+",
    "great",
    "happy",
    "wonderful",
    "brilliant",
    "excellent",
    "awesome",
    "gorgeous",
    "fantastic",
    "perfect",
    "rock",
    "yay",
    "congrat+",
    "beautiful",
];

/// Capitalised words that are names, acronyms or urgency, not shouting.
const NOT_SHOUTING: &[&str] = &[
    "urgent",
    "asap",
    "eod",
    "fyi",
    "api",
    "csv",
    "pdf",
    "sso",
    "sla",
    "bbb",
    "ftc",
    "ico",
    "ceo",
    "cto",
    "vp",
    "vat",
    "usd",
    "gbp",
    "eur",
    "hvac",
    "important",
    "note",
    "fwd",
    "pin",
    "dpa",
    "gdpr",
    "sms",
    "usa",
    "cnil",
    "cfpb",
    "faq",
    "url",
    "id",
    "ok",
    "okay",
    "tv",
    "dvd",
    "ssl",
    "aws",
    "crm",
    "erp",
    "hr",
    "it",
    "ac",
    "gp",
    "er",
    "msa",
    "soc",
    "inv",
    "rsvp",
    "pst",
    "est",
    "utc",
    "gmt",
    "nhs",
    "aepd",
    "omic",
    "ocu",
    "ups",
    "dhl",
    "usps",
    "led",
    "lcd",
    "diy",
    "re",
];

/// What the anger scorer found.
pub(crate) struct AngerScore {
    pub confidence: f32,
    /// Token ranges to show as evidence.
    pub spans: Vec<(usize, usize)>,
}

/// Scores anger from lexicon hits (weights and spans) and the shouting counted while
/// normalising. `positive` is how many happy words were seen.
pub(crate) fn score(
    n: &Normalized,
    lexicon: f32,
    lexicon_spans: &[(usize, usize)],
    positive: u32,
) -> Option<AngerScore> {
    // Without anger words, only two shouted words and no happy ones are enough (see
    // `enough` below): most messages stop here, before their capitals are looked at.
    if lexicon < 0.3 && (positive > 0 || n.caps_words.len() < 2) {
        return None;
    }
    let shouted: Vec<(usize, usize)> = n
        .caps_words
        .iter()
        .map(|&i| (i as usize, i as usize + 1))
        .filter(|&(i, _)| !NOT_SHOUTING.contains(&n.token(i)))
        .collect();
    // A message typed entirely in capitals is a habit, not shouting — unless it also
    // shouts its punctuation ("ARE YOU EVEN LISTENING?!").
    let all_caps_habit =
        n.word_count >= 6 && shouted.len() as u32 * 10 >= n.word_count * 6 && n.bang_runs == 0;
    let caps = if all_caps_habit {
        shouted.len().min(1)
    } else {
        shouted.len().min(3)
    };
    let mut total = lexicon;
    if lexicon > 0.0 || positive == 0 {
        total += 0.25 * caps as f32 + 0.2 * n.bang_runs.min(2) as f32;
    }
    let enough = lexicon >= 0.3 || (caps >= 2 && positive == 0);
    if total < 0.6 || !enough {
        return None;
    }
    let mut spans: Vec<(usize, usize)> = lexicon_spans.to_vec();
    spans.extend(shouted.into_iter().take(3));
    spans.sort_unstable();
    spans.dedup();
    Some(AngerScore {
        confidence: (0.45 + total / 3.0).min(0.95),
        spans,
    })
}
