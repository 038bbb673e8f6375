//! The built-in patterns, per trigger kind.
//!
//! Each rule is an *anchor* (phrases found in one pass over the normalised text), optionally a
//! list of words one of which must be *near* the anchor in the same sentence, and a list of
//! words that *block* it (benign senses, the customer's own manager, praise…). Negation and
//! hypotheticals are handled for every rule that allows them (see `context.rs`).
//!
//! Phrase syntax: `{a|b|}` alternatives (an empty one makes the group optional), a trailing
//! `+` matches any word starting with what is written ("refund+" → "refunded"). Phrases are
//! normalised like messages, so "I'll" may be written as is.

use crate::TriggerKind;
use TriggerKind::*;

/// One pattern rule. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    pub kind: TriggerKind,
    /// How sure a single hit of this rule makes us.
    pub weight: f32,
    pub phrases: &'static [&'static str],
    /// One of these must be in the anchor's sentence (empty: no requirement).
    pub near: &'static [&'static str],
    /// None of these may be within a few words of the anchor.
    pub blocks: &'static [&'static str],
    /// A negation before the anchor ("I'm not going to …") silences it.
    pub negatable: bool,
    /// A hypothetical ("if this were serious I'd …") silences it.
    pub hypothetical: bool,
    /// The `near` words may be in neighbouring sentences too (a wider window).
    pub wide: bool,
    /// More blocking words, for rules that share a list and add their own.
    pub more_blocks: &'static [&'static str],
}

const fn rule(kind: TriggerKind, weight: f32, phrases: &'static [&'static str]) -> Rule {
    Rule {
        kind,
        weight,
        phrases,
        near: &[],
        blocks: &[],
        negatable: true,
        hypothetical: true,
        wide: false,
        more_blocks: &[],
    }
}

impl Rule {
    const fn near(mut self, near: &'static [&'static str]) -> Rule {
        self.near = near;
        self
    }
    const fn blocks(mut self, blocks: &'static [&'static str]) -> Rule {
        self.blocks = blocks;
        self
    }
    const fn also_blocks(mut self, blocks: &'static [&'static str]) -> Rule {
        self.more_blocks = blocks;
        self
    }
    /// Companions may be in neighbouring sentences: "After the extraction my lip is still
    /// numb. I think the nerve was damaged."
    const fn wide(mut self) -> Rule {
        self.wide = true;
        self
    }
    /// For anchors that carry their own negation ("nobody got back to me").
    const fn literal(mut self) -> Rule {
        self.negatable = false;
        self.hypothetical = false;
        self
    }
}

// Word sets shared by several rules, as phrase fragments.
macro_rules! will {
    () => {
        "{i'll|i will|i wil|ill|i'm going to|im going to|i am going to|i'm gonna|im gonna|gonna|going to|we'll|we will|we're going to|we are going to|he'll|he'd|i'd|will|would|about to|ready to|want to|swear i'll|i swear i'll|threaten+ to|threatening to|threatened to|threatens to|said he'd|said he would|said he'll|said she'd|said she would|said they'd|says he'll|says he will}"
    };
}
macro_rules! lawyer {
    () => {
        "{lawyer|lawyers|laywer|lawer|attorney|attorneys|attorny|solicitor|solicitors|counsel|legal counsel|legal team|barrister|legal advisor|legal adviser}"
    };
}
macro_rules! boss {
    () => {
        "{manager|supervisor|supervisior|owner|boss|director|management|superior|someone senior|somebody senior|someone in charge|person in charge|someone with authority|someone higher up|higher up|higher ups|head of support|head of customer service|head of customer success|ceo|vp|vice president|team leader|team lead|clinical director|practice manager|practice owner|store manager|branch manager|area manager|general manager|managing director|owner of this practice|owner of the practice|manger|managers|your superior|your superiors|your boss|your line manager|line manager|senior management|upper management|senior staff|someone more senior|somebody more senior|someone above you|somebody above you|anyone above you|anybody above you|someone who can override this|head office|operations director|operations manager|ops manager|regional manager|district manager|customer service manager|customer relations manager|service manager|service director|duty manager|shift manager|person who runs this clinic|person who runs this place|person who runs this company|person who runs this business|person who runs this shop|whoever runs this|whoever runs the|whoever is in charge|whoever owns|clinical lead|lead dentist|principal dentist|practice principal|senior partner|head of department|head of operations|operations lead|customer care manager|complaints manager|practice lead|site manager|account director|someone with actual authority|someone with real authority|someone with more authority|somebody with authority|anyone with authority|someone above your pay grade|somebody above your pay grade|above your pay grade}"
    };
}
macro_rules! staff {
    () => {
        "{your|you|ur|the tech|tech|technician|technicians|plumber|engineer|roofer|electrician|installer|fitter|guy|guys|team|staff|worker|workers|contractor|consultant|support engineer|migration|maintenance|update|script|dentist|dr|doctor|hygienist|nurse|orthodontist|surgeon|clinic|since|after|while|when installing|during|builder|builders|painter|decorator|cleaner|cleaners|driver|delivery driver|delivery guy|movers|removal men|gardener|landscaper|carpet fitter|deploy|deployment|release|patch|upgrade|import|sync|integration|your app|your system|your software|your platform|agent|rep|assistant|dental assistant|receptionist|anaesthetist|pharmacist|therapist|physio|vet|crew|workmen|workman|he|she|they|technicien|technicienne|dentiste|plombier|electricien|votre|vous|techniker|monteur|handwerker|zahnarzt|zahnarztin|ihr|ihre|sie|tecnico|fontanero|electricista|dentista|su|ustedes|higienista|enfermera|enfermero|medico|odontologo|hygieniste|infirmiere|medecin|arzt|arztin|helferin|dentalhygienikerin|me hizo|me hicieron}"
    };
}

/// Words that turn a body's name into a complaint to it.
const REPORT_WORDS: &[&str] = &[
    "report+",
    "threaten+",
    "complain+",
    "complaint",
    "file",
    "filed",
    "filing",
    "lodge+",
    "contact+",
    "referred",
    "refer",
    "notif+",
    "going to",
    "go to",
    "went to",
    "will",
    "i'll",
    "we'll",
    "interested",
    "hear from",
    "escalat+",
    "write to",
    "writing to",
    "love to know",
    "like to know",
    "plainte",
    "saisir",
    "saisi",
    "reclamacion",
    "queja",
    "denuncia+",
    "beschwer+",
    "melden",
    "gemeldet",
    "eingereicht",
    "inform+",
    "alert+",
    "raise+",
    "raising",
    "take this to",
    "taking this to",
    "bring this to",
    "in touch with",
    "speak to",
    "speaking to",
    "spoken to",
    "call",
    "calling",
    "called",
    "email+",
    "write",
    "wrote",
    "send",
    "sending",
    "sent",
    "submit+",
    "case with",
    "love to hear",
    "like to hear",
    "want to hear",
    "interested to hear",
    "hear about",
    "hear how",
    "would think",
    "think of",
    "formal complaint",
    "reclamar",
    "presentar+",
    "poner",
    "acudir",
    "signaler",
    "signalement",
    "alerter",
    "contacter",
    "einreichen",
    "wenden",
    "einschalten",
    "informieren",
    "would",
    "could",
    "be happy",
    "make of",
    "doubt",
    "bet",
    "wonder",
    "opened",
    "open a",
    "look into",
    "investigat+",
    "get involved",
    "involve+",
    "already",
    "ire",
    "acudire",
    "ir a",
    "gehe",
    "gehen",
    "zur",
    "an die",
    "wende",
];

const PRAISE: &[&str] = &[
    "great",
    "5 star",
    "five star",
    "5 stars",
    "five stars",
    "love",
    "loved",
    "positive",
    "lovely",
    "wonderful",
    "amazing",
    "thank+",
    "recommend+",
    "glowing",
    "found you",
    "saw your",
    "read your",
    "reading your",
    "recommended you",
    "featured",
    "congrats",
    "helping",
    "case study",
    "excellent",
    "brilliant",
    "happy with",
    "good review",
    "best",
    "great job",
    "spot on",
    "loves",
    "saw you",
    "read about you",
    "kind words",
    "favourite",
    "favorite",
    "on the list",
    "so helpful",
    "really helpful",
];

/// Questions about how breaches and leaks are handled, not reports of one.
const POLICY_QUESTIONS: &[&str] = &[
    "questionnaire",
    "how you handle",
    "how do you handle",
    "walk me through",
    "vendor",
    "due diligence",
    "soc 2",
    "what's your process",
    "whats your process",
    "what is your process",
];

/// A charge already put right: "the double charge was refunded, all sorted now".
const RESOLVED_BILLING: &[&str] = &[
    "was refunded",
    "been refunded",
    "were refunded",
    "was credited",
    "been credited",
    "was reversed",
    "been reversed",
    "all sorted",
    "sorted now",
    "all resolved",
    "resolved now",
];

/// A threat of long ago, settled since: "last year I threatened to report you, but you
/// fixed everything".
const SETTLED: &[&str] = &[
    "last year",
    "back then",
    "years ago",
    "you fixed",
    "fixed everything",
    "all forgiven",
    "happy customer",
    "all sorted",
    "all resolved",
];

/// Blocking words every rule of a kind has, on top of its own (within the anchor's
/// sentence, like all blocks).
pub(crate) fn kind_blocks(kind: TriggerKind) -> &'static [&'static str] {
    match kind {
        BillingDispute => RESOLVED_BILLING,
        LegalThreat | Regulator | PublicComplaint => SETTLED,
        _ => &[],
    }
}

pub(crate) static RULES: &[Rule] = &[
    // ---- legal_threat ----
    rule(LegalThreat, 0.9, &[
        "{sue|sueing|suing|sued} {you|u|ya|your|ur|the clinic|this clinic|the company|this company|the practice|this practice|you guys|you lot|the lot of you|the store|the shop|the business|this place}",
        concat!(will!(), " {sue|take legal action|lawyer up}"),
        "{i|we} will sue", "threaten+ to sue", "to sue you", "i'm suing", "im suing", "we're suing",
        "{take|taking|took|bring|bringing} {you|u|this|it|them|the clinic|the company|your company|you guys|the matter|this matter|you all} to {court|small claims|smal claims|tribunal}",
        "see you in court", "see u in court", "see you in small claims", "see u in small claims",
        "{file|filing|filed|filling} {in|a claim in|a claim with|with|suit in|a lawsuit} {small claims|court|the court}",
        "small claims {court|forms|claim|form|next week|case}", "in small claims",
        "what a judge {thinks|says|would say}", "in front of a judge",
        "legal action", "legal proceedings", "legal steps", "legal recourse", "litigation",
        "lawsuit", "law suit", "class action", "demand letter", "cease and desist",
        "false advertising", "breach of contract", "lawyered up", "lawyer up",
    ]).blocks(&[
        "our former vendor", "former vendor", "old contractor", "not you", "landlord", "neighbour",
        "neighbor", "my ex", "other driver", "unrelated", "whether we sue", "threatening to sue me",
        "with our", "with the builder", "the builder",
    ]),
    rule(LegalThreat, 0.85, &[
        concat!("{contact|contacting|contacted|call|calling|consult|consulting|consulted|speak to|speaking to|spoken to|spoke to|spoke with|talk to|talking to|get|getting|got|hire|hiring|hired|retain|retained|retaining|instruct|instructed|instructing|involve|involving|seek|seeking|sought|get in touch with|forwarded this to|forwarding this to|forwarded all our correspondence to|forwarded everything to|forward this to|refer this to|passed this to|engage|engaged} {a|my|our|an|the|} ", lawyer!()),
        concat!("{hear|hearing|heard} from {my|our} ", lawyer!()),
        concat!("{my|our} ", lawyer!(), " {will|wil|is|are|has|have|can|would|'ll|ll|says|said|advised|advises|is already|prepared|is preparing|are preparing|has prepared} {be in touch|contact|be contacting|explain|advised|advise|informed|aware|handling|looking|preparing|prepared|drafting|in touch|tel|write|writing|call|be calling|send|reach}+"),
        concat!("{through|via} {my|our} ", lawyer!()),
        "retained counsel", "instructed our solicitors", "instructed solicitors",
        "legal advice", "expect a letter from", "my lawyer has advised", "my lawyer will",
        "practises law", "practices law", "practising law", "practicing law",
    ]).blocks(&[
        "i'm a", "im a", "i am a", "as a lawyer", "myself", "by profession", "works for a law firm",
        "needs to review", "review the", "dpa", "vendor", "onboarding", "audit", "sla history",
        "renewal", "house sale", "copy of", "records for", "car accident", "divorce", "landlord",
        "other driver", "unrelated", "compliance", "questionnaire", "msa", "contract terms",
        "for my lawyer", "the other side",
    ]),
    // Other English ways of bringing in the law: filing, counsel, legal departments,
    // relatives who practise law.
    rule(LegalThreat, 0.85, &[
        "{file|filing|filed|going to file|will file|to file} {suit|a suit|a lawsuit|a claim|a legal claim|proceedings|papers} {against|in|with}",
        "{file|filing|filed|will file|going to file|to file|see you|take you|taking you|taking this|take this|issue proceedings|issuing proceedings} {in|to} {county|district|civil|magistrates|federal|the county|the district} court",
        "{county|district|magistrates|federal|civil} court {claim|case|action|proceedings|next}",
        "{retained|hired|engaged|instructed|retaining|hiring|engaging|instructing|appointed} {outside|external|independent|specialist|our|a|an|} {counsel|legal counsel|lawyers|attorneys|solicitors|law firm|lawyer|attorney|solicitor}",
        "outside counsel", "external counsel",
        "{copied|cc'd|ccd|cc|copying|looped in|looping in|loop in|looping|involving|involved|notified|notifying|informed|informing|alerted} {in|} {my|our|the} {legal team|legal department|legal dept|lawyers|lawyer|attorney|attorneys|solicitor|solicitors|counsel}",
        "{legal team|legal department|legal dept|lawyers|attorneys|solicitors|counsel} {has|have|is|are} {been|} {copied|cc'd|ccd|involved|reviewing this|looking into this|on this|now involved|aware}",
        "{pursue|pursuing|explore|exploring|consider|considering|weigh|weighing|discuss|discussing|reviewing|review|know|understand} {our|my|all|} legal {options|remedies|rights|avenues|recourse}",
        "{letter|letters} before {action|claim}", "pre action letter", "formal legal",
        "{take|taking|took} this further legally", "escalate this legally", "legally liable", "legal liability",
        "no win no fee", "personal injury {claim|lawyer|lawyers|solicitor|solicitors|attorney}",
        "{issue|issuing|issued|lodge|lodging|start|starting} {a|my|our} {claim|court claim|legal claim|county court claim|money claim} {against|in|with|for|}",
        "{issue|issuing|issued} proceedings",
        "{escalated|escalating|escalate|passed|passing|referred|referring|handed} {this|it|the matter|the issue|your response} {internally|} to {our|my|the} {legal department|legal team|legal dept|lawyers|counsel|solicitors|attorneys}", "{end|ends|ended|ending} up in court", "{go|going|gone|goes} to court",
        "{in|to} court over this", "{seek|seeking|sought|claim|claiming|pursue|pursuing|recover|recovering} {damages|compensation through the courts}",
        "{talk|speak} to my {lawyer|lawyers|solicitor|solicitors|attorney|attorneys}",
        concat!("{letter|letters|email|call|correspondence|notice} from {my|our} ", lawyer!()),
        "{sue|suing|sued} {for|over} {damages|negligence|compensation|the cost|the damage|this}",
        "{i|we} {will|'ll|am going to|are going to|shall|intend to|plan to} {be suing|be taking legal|take legal}",
        concat!("{talk|talked|talking|met|meeting|meet|see|seeing|saw|consult|call|called} {with|to|} {a|my|our|an|the} ", lawyer!(), " {about|regarding|over|tomorrow|today|this week|on monday|first thing}"),
    ]).blocks(&[
        "i'm a", "im a", "i am a", "as a lawyer", "myself", "by profession", "landlord", "divorce",
        "car accident", "other driver", "unrelated", "our former vendor", "former vendor",
        "old contractor", "not you", "my ex", "house sale", "my will", "a will", "estate", "custody",
        "review the", "dpa", "msa", "contract terms", "compliance", "questionnaire", "renewal",
        "recommended you", "recommend+", "referred me", "great", "thank+", "love+",
        "another practice", "other practice", "previous dentist", "previous", "last year",
        "years ago", "at another", "with them", "against them", "we ended up",
    ]),
    // "My solicitor" with getting in touch in the same sentence: "I'll be contacting my
    // insurer and my solicitor about the damage".
    rule(LegalThreat, 0.8, &[concat!("{my|our} ", lawyer!())])
        .near(&[
            "contact+", "speak+", "spoke", "spoken", "talk+", "call", "calling", "called",
            "consult+", "involv+", "forward+", "instruct+", "hear from", "be in touch",
            "in touch", "pass+", "refer+",
        ])
        .blocks(&[
            "i'm a", "im a", "i am a", "as a lawyer", "myself", "by profession", "appointment",
            "meeting", "needs to review", "review the", "dpa", "vendor", "onboarding", "audit",
            "renewal", "house sale", "conveyancing", "copy of", "records for", "car accident",
            "divorce", "landlord", "other driver", "unrelated", "compliance", "questionnaire", "msa",
            "contract terms", "for my lawyer", "the other side", "recommend+", "great", "thank+",
            "love+", "tax", "will", "estate", "probate", "lease", "mortgage", "friend", "visa",
            "immigration", "custody", "sign", "signature", "witness", "invoice for", "insurance",
            "claim form", "confirming", "confirmation", "need a letter", "needs a letter",
            "asked for", "asks for", "requested", "recommended",
        ]),
    // A relative who practises law, said pointedly: "my sister is a solicitor and she's
    // reading my notes", "just so you know".
    rule(LegalThreat, 0.85, &[
        "{sister|brother|wife|husband|partner|dad|father|mother|mum|mom|son|daughter|friend|cousin|uncle|aunt|neighbour|neighbor|brother in law|sister in law|father in law|son in law|best friend|fiance|fiancee} is {a|an} {lawyer|attorney|solicitor|barrister}",
        "{sister's|brother's|wife's|husband's|partner's|dad's|father's|mother's|mum's|mom's|son's|daughter's|friend's|cousin's|uncle's|aunt's} {a|an} {lawyer|attorney|solicitor|barrister}",
    ])
    .near(&[
        "just so you know", "fyi", "for your information", "reading", "looking at", "looked at",
        "look at", "review+", "aware", "advised", "advise", "says", "said", "thinks", "told me",
        "case", "will be in touch", "interested", "involved", "if", "unless", "notes", "records",
        "leg to stand on", "won't be happy", "wont be happy", "not be happy", "has a view",
        "documents", "paperwork", "contract", "letter", "emails", "correspondence", "going through",
        "gone through",
    ])
    .blocks(&["love+", "great", "thank+", "recommend+", "pick up", "collect", "appointment", "booking"]),
    // Non-English legal language.
    rule(LegalThreat, 0.85, &[
        "{voy a|vamos a|los voy a|les voy a|lo voy a|la voy a|te voy a|os voy a} demandar",
        "demandarlos", "demandaremos", "demandarles", "los demandare",
        "{mi|nuestro|un} abogado", "acciones legales", "accion legal", "demanda judicial",
        "una demanda", "tribunales", "juzgado", "via judicial",
        "{mon|notre|un} avocat", "procedure judiciaire", "poursuites judiciaires",
        "poursuivre en justice", "vous poursuivre", "mise en demeure", "action en justice",
        "recours collectif", "au tribunal", "devant le tribunal",
        "{mein|meinen|unser|unseren|einen} {anwalt|rechtsanwalt|anwaltin}", "rechtsanwalt",
        "rechtliche schritte", "verklagen", "klage", "vor gericht", "anwaltlich",
        "{mis|nuestros|los} abogados", "{llevar|llevarlos|llevaros|llevarles|llevare|llevaremos} {a juicio|a los tribunales|esto a los tribunales|ante un juez}",
        "{interponer|poner|presentar|pondre|pondremos|presentare} una demanda", "demandare", "demandar a",
        "{acciones|accion|medidas|via} {judiciales|judicial|legal|legales}", "por la via legal",
        "{asesoria|asesor|asesora} {legal|juridica|juridico}", "denuncia judicial",
        "{mes|nos|des} avocats", "{aller|irai|irons|saisir|saisirai|saisirons} {en|la} justice", "en justice",
        "porter plainte contre", "{porterai|porterons|vais porter|allons porter} plainte contre",
        "{attaquer|attaquerai|attaquerons} en justice", "{saisir|saisirai|saisirons|saisis|saisi} {le|les} {tribunal|tribunaux|juge}", "{action|recours|conseil|service} juridique",
        "tribunal de {commerce|grande instance|proximite|judiciaire}", "huissier",
        "{anwalte|anwaltin|anwaltskanzlei|rechtsanwaltin|rechtsanwalte|rechtsbeistand}",
        "{anwalt|rechtsanwalt} {einschalten|eingeschaltet|beauftragt|beauftragen|informiert}",
        "{gerichtlich|gerichtliche|juristische|rechtliche} {vorgehen|schritte|klarung|wege|konsequenzen}",
        "{klage|klagen} {einreichen|erheben|eingereicht}", "{zum|ans|vors} gericht", "rechtsweg",
    ]).blocks(&[
        "ich bin", "soy abogad+", "je suis avocat+", "als anwalt", "como abogad+",
        "en tant qu avocat+", "vertrag", "unterschreiben", "contrat", "contrato", "conseille",
        "recommande", "rendez vous", "cita", "termin", "empfohlen", "recomendo", "recomendado",
    ]),
    // ---- threat ----
    rule(Threat, 0.85, &[
        concat!(will!(), " {kill|hurt|beat|punch|stab|shoot|smash|batter|strangle|slap|attack|burn|torch|wreck|trash|break his|break your|knock|set the dogs on|come after|come for|track down|find you|find him|find her|make you pay|make you regret|make sure you regret|make your life hell|make your lives hell|come down and sort out|come down there|come to your office|come to your office and|be waiting}"),
        "{kill|hurt|beat|punch|stab|shoot} {you|him|her|them|ya|your staff|the lot of you|all of you|that dentist|the tech|your tech|your guy}",
        "{someone's|someones|someone is|somebody's|somebodys|somebody is|people are} {going to|gonna|gona} get hurt",
        "{someone|somebody} will get hurt",
        "know where {you|he|she|they} {live|lives|park|parks|work|works}",
        "find out where {you|he|she|they} {live|lives|park|parks|work|works}",
        "{watch|better watch} {your back|yourself|himself|herself|themselves}",
        "{you'll|you will|he'll|he will|she'll|they'll} regret {it|this}",
        "pay for it one way or another", "pay for this one way or another",
        "don't test me", "dont test me", "leaving in an ambulance", "leave in an ambulance",
        "{burn|torch} {the|that|this|your} {place|clinic|office|shop|store|building|practice} {down|to the ground}",
        "kick his", "kick your", "break his legs", "teach him a lesson", "teach you a lesson",
        "sort him out", "sort her out", "sort you out",
        "a gun", "a knife", "a bomb",
    ]).blocks(&[
        "kill me", "killing me", "kill for", "killing it", "killer", "kill time", "die of",
        "nail gun", "glue gun", "heat gun", "spray gun", "before someone gets hurt", "checked",
        "my husband is going to", "my wife is going to", "my boss is going to", "haha", "lol",
        "sort out the problem", "sort out the issue", "sort out the boiler", "sort out the booking",
        "sort out the paperwork", "sort out the invoice", "sort out the bill", "sort out the mess",
        "sort out the refund", "sort out the appointment", "wait time",
    ]),
    // Beatings, broken bones, waiting outside: violence described rather than named.
    rule(Threat, 0.85, &[
        "{get|getting|gets|got|give him|give you|give her|give them} {a|his|her|their|your} {beating|kicking|hiding|slap|smack|punch|thump|good hiding|pasting|battering|head kicked in|face smashed in|teeth knocked out|lights punched out}",
        "{someone|somebody|he|she|you|they|people|someone's|somebody's|someones|somebodys} {is|are|will|'ll|gonna|going to|will be|is going to|are going to|'s} {getting|get|be getting|going to get} {slapped|hurt|punched|smacked|hit|beaten|beaten up|stabbed|shot|decked|thumped|battered|a slap|a smack|a beating|a punch}",
        "{break|snap|smash|bust} {his|her|your|their|the tech's|the techs} {fingers|finger|arm|arms|neck|nose|jaw|face|legs|leg|teeth|kneecaps|head|skull}",
        concat!(will!(), " {punch|smack|slap|hit|kick|thump|headbutt|deck|strangle|throttle|batter|bash|knock out|beat up|rough up|deal with|sort} {him|her|you|them|the tech|that tech|the dentist|your tech|your guy|that guy|the guy|the engineer|the driver|the receptionist|that woman|that man|someone}"),
        "{won't|wont|will not|can't|cant|cannot} be {held |}responsible for what {i|he|we} {do|does|might do|will do|'ll do}",
        "{don't|dont|do not} know what {i'll|ill|i will|i might|he'll|he might} do",
        "{wait|waiting|be waiting} for {him|her|you|them|your tech|the tech} {outside|after work|in the car park|when he|when she}",
        "{see|meet} {you|him|her} outside", "{shows|show} {his|her|their|your} face {around|round|here|again|near}",
        "{you'll|you will|he'll|he will|they'll|they will|she'll} be sorry",
        "{slash|slashed|slashing} {his|your|their|the} {tyres|tires}", "key {his|your|their} {car|van}",
        "smash {up|in|} {your|the|that|his|their} {van|car|windows|window|shop|office|place|face|equipment|head}",
        "{baseball bat|crowbar|machete|shotgun|my gun|a blade}",
        "{better|had better} {hope|pray} {i|we} {don't|do not|dont|never} {see|find|catch|meet|run into|bump into}",
        "set {the|my|our} {dog|dogs} on",
    ]).blocks(&[
        "kill me", "killing me", "kill for", "killing it", "killer", "kill time", "die of", "haha",
        "lol", "game", "film", "movie", "book", "joke about", "my husband is going to",
        "my wife is going to", "before someone gets hurt", "nail gun", "glue gun", "heat gun", "spray gun",
    ]),
    // Self-harm signals.
    rule(Threat, 0.85, &[
        "kill myself", "end it all", "end my life", "take my own life", "suicid+", "self harm",
        "hurt myself", "can't do this anymore", "cant do this anymore", "can't go on", "cant go on",
        "no point in anything", "no point living", "no point in living", "no reason to live",
        "want to die", "better off dead", "not worth living",
        "{don't|dont|do not} want to {be here|live|be alive|wake up} {anymore|any more}",
        "nothing to live for", "no reason to go on",
        "{don't|dont|do not|can't|cant|cannot} see the point {of|in} {going on|living|carrying on|being here|anything|life}", "{ending|ended|ends} it all", "{thinking|thought|thoughts} {about|of} ending {it|things|my life}",
        "end things", "{harm|harming|hurting|cut|cutting} myself", "take all my pills",
        "me quiero morir", "quitarme la vida", "no quiero vivir", "me suicider", "en finir avec la vie",
        "mir das leben nehmen", "{will|mochte} nicht mehr leben", "suizid+",
    ]),
    rule(Threat, 0.85, &[
        "{te|los|les|os} voy a matar", "me las vais a pagar", "me las van a pagar",
        "je vais vous tuer", "je vais le tuer", "casser la gueule",
        "umbringen", "abstechen", "das werden sie bereuen",
        "{te|le|les|os} voy a {partir|romper} {la cara|las piernas|la boca}", "te vas a enterar",
        "{vous|le|te|les} {casser|defoncer|frapper} {la figure|la tete|la gueule|}", "vous allez le regretter",
        "{je vais|on va} vous {tuer|frapper|defoncer|casser}",
        "{ich bring|ich bringe|wir bringen} {dich|sie|ihn|euch} um", "{verprugeln|verprugel|aufs maul|eine reinhauen}",
        "das wirst du bereuen", "das werdet ihr bereuen",
    ]),
    // ---- clinical_dispute ----
    rule(ClinicalDispute, 0.85, &[
        "wrong {tooth|teeth|procedure|medication|medicine|meds|dose|dosage|prescription|patient|side|leg|eye|implant|drug|injection|script|molar|nerve}",
        "nerve damage", "allergic reaction", "broke out in hives", "anaphyla+", "overdose+",
        "second degree burns", "needed stitches", "ended up in {hospital|the hospital|the er|urgent care}",
        "{botch+|negligen+|malpractice}",
        "{wasn't|was not|weren't|were not|never|not} {bonded|fitted|installed|adjusted|sealed|secured|connected|earthed|grounded|done} {properly|correctly|right}",
        "despite the {allergy|allergies}", "despite {his|her|my} {allergy|allergies}",
        "{muela|diente|pieza} equivocad+", "mauvaise dent", "falschen zahn", "nervenschadigung",
        "behandlungsfehler", "kunstfehler", "fehler gemacht",
        "{wrong|incorrect|double|adult|excessive|dangerous|lethal} {dose|dosage|doses|strength}",
        "{10x|ten times|twice|double|triple|three times|5x|five times|100x|1000x} {the|what} {dose|dosage|prescribed dose|normal dose|right dose|correct dose|it should be|amount it should be}",
        "{dose|dosage} {is|was|were} {10x|ten times|twice|double|triple|wrong|too high|incorrect|far too high}",
        "overdosed", "{over|under} {medicated|dosed}",
        "{double|twice|triple|three times|ten times} {her|his|my|the|their} {usual|normal|prescribed|regular|correct} {dose|dosage}",
        "{ended up in|rushed to|taken to|admitted to|had to go to|spent the night in|landed in|landed me in|put me in|put him in|put her in} {a&e|a and e|casualty|the emergency room|emergency room|emergency|the er|er|hospital|the hospital|urgent care|the emergency department|intensive care|icu}",
        "despite {my|his|her|their|the|it being in my|it being in his|it being in her} {allergy|allergies|notes|records|condition|history|warning|chart|file}",
        "{even though|despite|although|when|though} {i'm|i am|im|he's|hes|she's|shes|he is|she is|my son is|my daughter is|they're|theyre|we're|my mum is|my dad is|i was|he was|she was} {allergic|intolerant}",
        "even though {my|his|her|their|the} {allergy|allergies|heart condition|condition|medical history} {is|was|are|were} {in|on|listed|noted|documented}",
        "{put|stuck|stepped|pushed|fell} {his|her|their|a|the} {foot|boot|ladder|knee|drill} through",
        "{drilled|drilling|cut|cutting|nailed|screwed|punctured} {through|into} {a|the|our|my} {pipe|water pipe|gas pipe|cable|wire|wiring|main|mains|water main|pipes}",
        "{kept|continued} {drilling|going} {while|even though|when|after}",
        "without {anaesthetic|anesthetic|numbing|anaesthesia|anesthesia|local}", "{wasn't|was not|wasnt|i wasn't|i was not} numb",
        "numbing wore off", "{left|leave} {a|the} {drill bit|instrument|swab|piece} {in|inside}",
        "{se|s'est|se sont|nos hemos|se han} {equivoco|equivocaron|trompe|trompes|trompe} de {muela|diente|dent|medicament|medicamento|dosis|dose|patient|paciente}",
        "{dosis|dose|medicament|medicamento} {equivocada|equivocado|incorrecta|incorrecto|incorrecte|erronee|errone}",
        "{mauvaise|mauvais} {dose|dent|medicament|dosage}",
        "{falsche|falschen|falsches|falscher} {dosis|dosierung|medikament|medikamente|zahn|zahne|spritze|behandlung}",
        "{zu hohe|uberhohte|doppelte} {dosis|dosierung}",
        "{damage|harm|injury|injuries|burns|flooding|leak|mess} {caused by|done by} {your|the|that|his|her}",
        concat!("{damage|harm|injury|injuries|burns|flooding|leak|leaks|mess|damages} {your|the|that} ", staff!(), " {caused|did|made|left}"),
    ]).blocks(&["is it normal", "normal", "expected", "my fault", "our mistake", "wrong size", "wrong address", "previous dentist", "other practice", "another practice", "old contractor", "previous contractor", "not you", "what they", "quote for", "fixing what", "can happen", "could happen", "mistakes happen", "double check", "i'm a nurse", "im a nurse"]),
    rule(ClinicalDispute, 0.8, &[
        "{cracked|broke|broken|smashed|flooded|ruined|damaged|scratched|dented|deleted|wiped|corrupted|corrupt|destroyed|snapped|fractured|gouged|burst|collapsed|drilled through|drilled straight through|leaking into|lost every|lost three|lost all|infected|injured|cut his|cut her|cut my|hurt my|burned my|burnt my|scalded}",
        "{chipped|nicked|stained|punctured|severed|shattered|knocked over|tore|ripped|dropped|overwrote|overwritten|erased|wiped out|scorched|burned|burnt|bruised|flooding|cracking|damaging|ruining|deleting|wiping|corrupting|breaking}",
        "{caused|causing} {a|an|the|} {leak|flood|fire|outage|crack|cracks|hole|holes|injury|infection|burn|burns|data loss|damage}",
        "{reversed|crashed|drove|backed|ran|smashed|bumped} into {our|my|the|his|her}",
        "{bleached|discoloured|discolored|warped|melted|fried|blew|blown|blew up|shorted|torn|tore|sprained|dislocated|perforated|punctured|pierced|scraped|gouged|stripped} {my|our|the|his|her|a|it|out}",
        "{wired|plumbed|installed|fitted|connected|set up|configured} {it|the|our|my} {00|} {cooker|boiler|oven|shower|socket|sockets|fuse board|heater|pump|meter|database|server|system|router|tap|toilet|unit|} {wrong|wrongly|incorrectly|backwards|the wrong way}",
        "{nerve|nerves} {was|were|has been|got|is} {damaged|hit|cut|injured}",
        "{can't|cannot|cant|can no longer|still can't|still cannot|still cant} feel {my|the|his|her} {tongue|lip|lips|chin|jaw|face|cheek|left side|right side|side|teeth|arm|hand|fingers|leg}",
        "{left|leaving|leave} me with {a|an|} {swollen|broken|cracked|numb|burnt|burned|bleeding|infected|bruised|damaged|dislocated|painful|chipped} {jaw|tooth|lip|face|gum|gums|mouth|arm|back|shoulder|skin|nerve|tongue}",
        "{herida|herido|infectada|infectado|lesion|quemadura|quemaduras} {en|por}",
        "{blessure|blesse|blessee|infectee|infecte|brulure} {a|au|par}",
        "{verletzung|entzundet|entzundung|verbrennung} {am|an|durch|nach}",
        "{torn|ruptured|sprained|dislocated|pulled|trapped} {ligament|ligaments|tendon|muscle|shoulder|wrist|ankle|knee|back|nerve|disc}",
        "{estropeo|estropearon|estropeado|estropeada|rayo|rompio|dano|quemo|inundo|mancharon|mancho}",
        "{abime|abimee|abimes|endommage|endommagee|inonde|inondee|raye|rayee|brule|brulee|detruit|detruite|efface|effacees|perdu toutes}",
        "{beschadigt|kaputt gemacht|zerkratzt|uberflutet|zerstort|geloscht|verbrannt|verletzt|kaputt}",
        "{rompio|rompieron|danado|danada|danaron|dano|inundo|inundaron|rayaron|quemaron|borraron|destrozaron|destrozado|lastimaron|hirieron}",
    ])
    .near(&[staff!(), "extraction", "filling", "crown", "root canal", "procedure", "treatment", "surgery", "install", "installation", "repair", "fitting", "the work", "the job"])
    .wide()
    .blocks(&[
        "is it normal", "normal", "expected", "my fault", "my own fault", "our mistake",
        "ourselves", "we accidentally", "i accidentally", "toffee", "careful", "no damage",
        "arrived broken", "arrived", "in the box", "before your", "unrelated", "other practice",
        "another practice", "previous dentist", "football", "boiler works", "parcel", "in delivery", "during delivery", "delivery company", "in the post",
        "not damaged", "still not", "we bulk", "we deleted", "can they be restored", "nearly",
        "almost", "defective", "faulty", "sold me", "manufacturer", "courier", "in transit", "zip",
        "my son broke", "my daughter broke", "the kids broke", "dog broke", "old contractor",
        "previous contractor", "previous plumber", "previous company", "other company",
        "last company", "not you", "how do i", "quote for", "is broken", "has broken", "broke down",
        "broken down", "keeps breaking", "stopped working", "i broke", "i cracked", "i chipped",
        "i dropped", "i damaged", "i snapped", "i burned", "i burnt", "i cut", "i scratched",
        "eating", "popcorn", "nut", "my own", "ourselves", "myself",
    ]),
    // ---- manager_request ----
    rule(ManagerRequest, 0.85, &[
        concat!("{speak|talk|speaking|talking|chat} {to|with} {a|the|your|ur|someone|} ", boss!()),
        concat!("{escalate my complaint to|escalate my case to|escalating this to|escalating my complaint to|raise this with|take this up with|raise it with|get me|put me through to|transfer me to|connect me to|connect me with|i want|i need|i'd like|i would like|can i have|may i speak to|let me speak to|give me|call back from|callback from|a call from|call from|escalate this to|escalated to|escalate it to|escalate to|pass this to|passed to|forward this to|send this to|send this complaint to|demanded to speak to|asked to speak to|asks to speak to|demands to speak to|ask for|asked for|asking for|asks for|demand|demanded|demands|demanding|request|requested|transmitted to|want} {a|the|your|ur|} ", boss!()),
        "{who is|who's|whos} in charge",
        "{someone|somebody|anyone|person} who can {actually |}{make a decision|make decisions|authorise|authorize|do something|fix this|decide}",
        "complaint to the top",
        "escalate this to someone", "escalated to someone", "this to the top",
        "{hablar|habla|hable|pasar|pase} con {el|un|la|una|su|algun|} {supervisor|supervisora|encargado|encargada|gerente|responsable|director|directora|jefe|jefa|dueno|duena}",
        "{parler|m adresser} {au|a un|a une|a votre|avec le|avec un|avec votre|a la|avec la|a} {responsable|superieur|directeur|directrice|manager|gerant|chef|patron}",
        "votre superieur", "{transmis|transmettre|remonter} a un responsable",
        "{mit|ihrem|ihren|dem|einem} {vorgesetzten|chef|geschaftsfuhrer|filialleiter|teamleiter}",
        "{person|one|guy|lady|woman|man|someone|somebody} who {runs|owns|manages} {this|the|your} {clinic|place|company|business|shop|store|practice|branch|office|surgery}",
        "{whoever|anyone who|someone who|somebody who} {runs|owns|manages|is in charge|is responsible here|can override|has the authority|has authority}",
        concat!("looked at by {a|the|your|someone|somebody|} ", boss!()),
        concat!("{have|get|let|make} {a|the|your} ", boss!(), " {call|contact|phone|ring|email|get back to|look at|review|reach out to}"),
        "{manager|supervisor|owner|director|someone senior|somebody senior} {to|should|must|needs to|need to} {call|contact|phone|ring|email|get back to|look at|review|deal with|handle}",
        "escalate {this|it|my complaint|the complaint|my case|this complaint|this matter|this issue|the matter} {to management|to senior management|higher|further up|upwards|up the chain|to someone senior|to the top|to your superiors}",
        "up the chain", "over your head", "go above your head", "going above your head",
        "{hablar|habla|hable|pasar|pase|comunicar|comunicarme|atienda|quiero} {con|a|} {el|un|la|una|su|algun|} {responsable|gerencia|direccion|jefe de tienda|encargado de tienda|superior}",
        "{parler|m adresser|transmettre|transferer|remonter} {a|au|avec} {la direction|votre direction|la hierarchie|votre hierarchie|votre responsable|un superieur|votre chef}",
        "{an die|die|der|mit der} {geschaftsfuhrung|geschaftsleitung|filialleitung|leitung|praxisleitung|teamleitung}",
        "{leiten|weiterleiten|weitergeben|geben} sie {das|dies|es|meine beschwerde} {an|bitte an|weiter an} {die|den|ihren|ihre}",
        "{vorgesetzte|vorgesetzten|verantwortlichen|zustandigen} {sprechen|sprechen will|sprechen mochte}",
    ]).blocks(&[
        "my manager", "our manager", "my boss", "our boss", "our director", "our supervisor",
        "new supervisor", "account manager", "office manager", "facilities manager",
        "property manager", "partnerships manager", "it manager", "manager role", "hiring",
        "job", "vacancy", "recruit+", "position", "cv", "resume", "compliment+", "praise",
        "great job", "above and beyond", "invite", "conference", "speak at", "stockist",
        "partnership", "sorted it out", "sorted it", "was brilliant", "stocking", "stock your",
        "recrutement", "stage", "emploi", "candidature", "empleo", "trabajo", "bewerbung",
        "pedido grande", "presupuesto", "proveedor", "mayorista", "grossiste", "fournisseur",
        "wholesale", "supplier", "sponsor+", "interview", "press office", "thank the", "thank your",
        "thanks to the", "thank her", "thank him", "pass on my thanks", "pass my thanks",
        "was lovely", "was great", "was so helpful", "was very helpful", "was informed",
        "has been informed", "been notified", "internal note", "approve my leave",
        "apply", "application", "internship", "work experience", "collaborat+",
        // The agent's own action in a phone note, not the caller's request.
        "agent offered", "we offered", "i offered", "offered a callback", "offered him",
        "offered her", "offered them", "agent escalated", "i escalated", "we escalated",
    ]),
    // A boss word with a request in its sentence: "I want this looked at by your
    // operations director", "could your manager ring me".
    rule(ManagerRequest, 0.75, &[
        "{someone with actual authority|someone with real authority|somebody with authority|anyone with authority|someone with authority|manager|supervisor|owner|director|management|superior|superiors|boss|higher up|higher ups|senior staff|head office|ceo|managing director|practice manager|store manager|branch manager|someone senior|somebody senior|geschaftsfuhrung|geschaftsleitung|vorgesetzte+|responsable|direction|directeur|directrice|gerant|gerante|gerente|encargado|encargada|supervisora|jefe|jefa|dueno|duena|superieur|superieure|patron}",
    ])
    .near(&[
        "speak", "talk", "want", "need", "demand+", "request+", "asking", "ask to", "ask for",
        "get me", "put me", "transfer", "connect", "escalat+", "asks for", "asks to", "demands", "pass", "passed", "passing", "forward+",
        "send this", "refer", "call me", "phone me", "ring me", "contact me", "email me",
        "get back to me", "call back", "callback", "look at", "looked at", "look into", "review",
        "deal with", "involve", "insist", "i'd like", "id like", "i would like", "immediately", "hablar", "quiero", "exijo", "pasar", "parler", "voir", "veux", "exige",
        "on the phone", "on the line", "who is", "who's", "whos", "name and", "their name", "his name",
        "her name", "email address", "direct line", "number for", "details for", "raise", "formal complaint",
        "name of", "take this further", "take it further",
        "sprechen", "leiten", "weiterleiten", "weiter", "verlange", "mochte", "bitte",
    ])
    .blocks(&[
        "my manager", "our manager", "my boss", "our boss", "our director", "our supervisor",
        "my supervisor", "new supervisor", "account manager", "office manager",
        "facilities manager", "property manager", "partnerships manager", "it manager",
        "manager role", "hiring", "job", "vacancy", "recruit+", "position", "cv", "resume",
        "compliment+", "praise", "great job", "above and beyond", "invite", "conference",
        "speak at", "stockist", "partnership", "stocking", "wholesale", "supplier", "sponsor+",
        "interview", "press office", "thank+", "thanks", "was lovely", "was great", "helpful",
        "was informed", "been informed", "been notified", "was notified", "informed the",
        "notified the", "apply", "application", "internship", "work experience", "collaborat+",
        "mi jefe", "mon chef", "mein chef", "meine chefin", "unser chef", "my ceo", "our ceo",
        "project manager", "product manager", "approve", "approval", "sign off",
        "director of", "funeral director", "school", "teacher", "mi encargado", "ma responsable",
        "mon responsable", "notre responsable", "spoke to a", "spoke with a", "spoken to a",
        "happy with", "sorted", "resolved", "right person", "contract for", "maintenance contract",
        "ask the manager", "ask your manager", "whether", "open on", "opening hours",
        "sales", "proposal", "demo", "pricing", "quote", "bedanken", "danke", "gracias",
        "agradecer", "merci", "remercier", "felicitar", "loben", "recrutement", "stage", "emploi",
        "candidature", "poste", "empleo", "trabajo", "curriculum", "pedido grande", "presupuesto",
        "proveedor", "bewerbung", "praktikum", "stelle", "pedido", "mayorista",
        "agent offered", "we offered", "i offered", "offered a callback", "offered him",
        "offered her", "offered them", "agent escalated", "i escalated", "we escalated",
    ]),
    // ---- public_complaint ----
    rule(PublicComplaint, 0.85, &[
        "{1|one|1 star|zero|0} star", "{bad|negative|terrible|awful|scathing|horrible|honest|nasty} {review|reviews}",
        "{go|going|went|goes|gone} to the {press|media|papers|news|local paper|local news|newspapers}",
        "{go|going|went|goes|gone|take this|taking this|taken this|talk|talking|speak|speaking|call|calling|ring|ringing|tell|telling|contact|contacting|contacted|write to|writing to|wrote to|tip off|tipped off|tipping off} {to the|to my|to our|the|} {local tv|tv station|news station|local news station|local radio|radio station|local newspaper|the newspaper|a newspaper|the local rag|local rag|consumer programme|consumer show}",
        "{contact|contacted|contacting|call|calling|called|tell|tip off|speak to|write to|writing to|wrote to|email|emailed|ring|rang|talk to|talking to} the {press|media|newspaper|newspapers|local paper|papers|news|local news|local radio|bbc|tv}",
        "{tell|telling|warn|warning} everyone", "everyone will know",
        "{everyone|people|the world|the public|my followers|followers|everybody} {will|are going to|is going to|need to|needs to|should|are gonna} {hear|know|see}",
        "warn other+", "let everyone know", "my followers", "my subscribers", "followers are going to",
        "video about {this|you|it}", "tag you",
        "going viral", "go viral",
        "{resena|opinion|critica} {muy |}negativa", "redes sociales", "publicar esto",
        "avis negatif", "reseaux sociaux", "mauvais avis",
        "negative bewertung", "schlechte bewertung", "eine bewertung", "an die presse",
        "{tell|telling|warn|warning|let} {every|all|all the|all my|the other|other|all our} {mum|mums|mom|moms|parent|parents|neighbour|neighbours|neighbor|neighbors|friend|friends|customer|customers|patient|patients|person|one|family|colleague|colleagues|followers|contacts|members}",
        "{tell|telling|warn|warning} {everyone|everybody|people} {i know|in my|in our|in the|about|on|online|to avoid}",
        "{spread|spreading} the word", "name and shame",
        "{taking|take|took|taken} {it|this|the story|my story|this story} to the {papers|press|media|news|newspapers|newspaper|local paper|local news|tv}",
        "make sure {everyone|everybody|my friends|people|others|all my friends|the whole} {knows|know|hears|hear|don't|dont|avoid+|stay away}",
        "{adding|add|added|posting|post} my {post|review|story|experience|comment|complaint|voice} {to|on|in}", "{go|going|went|gone} public", "make this public",
        "{post|posting|posted|write|writing|wrote|share|sharing|shared|put|putting|publish|publishing|published} {this|it|the whole story|everything|my experience|about this|about you|about your|about it|a post|photos|pictures|a video|the video|the photos|the pictures|a thread} {on|online|everywhere|all over|publicly|to}",
        "all over {social media|facebook|the internet|twitter|instagram|tiktok|google|reddit|linkedin|youtube}",
        "{my|our} next {video|vlog|podcast|newsletter|blog|column|article|story|thread|stream|episode}",
        "{blog|linkedin|reddit|twitter|tiktok|facebook|instagram|youtube} {post|thread|video|story|rant}",
        "{people|others|everyone|the public|customers|patients} {deserve|ought|have a right|need} to know",
        "{warn|warning|alert} {people|others|everyone|other customers|other patients|future customers|other parents}",
        "{my|our} {viewers|audience|readers|listeners|subscribers|followers|community}",
        "{contar|contarlo|publicar|publicarlo|difundir} {en|esto en|todo en} {redes|internet|facebook|google|twitter|instagram|tiktok|los medios}",
        "{publier|raconter|partager} {ca|cela|mon experience|tout} {sur|dans} {les reseaux|facebook|google|internet|la presse|twitter|instagram}",
        "{offentlich machen|in den sozialen medien|auf facebook|bei google|im internet} {berichten|schreiben|posten|veroffentlichen|erzahlen|}",
    ]).blocks(PRAISE),
    rule(PublicComplaint, 0.85, &["{journalist|journalists|reporter|reporters|news desk|consumer show|consumer programme|watchdog programme}"])
        .near(&[
            "tell", "telling", "told", "contact+", "call", "calling", "called", "speak", "speaking",
            "spoke", "talk", "talking", "going to", "will", "i'll", "ill", "we'll", "in touch",
            "interested", "love to hear", "like to hear", "send", "sending", "sent", "forward+",
            "email+", "story", "my friend",
        ])
        .blocks(&[
            "i'm a", "im a", "i am a", "as a", "our", "press office", "press release",
            "interview", "feature", "quote about", "opening", "launch", "comment on",
        ]),
    rule(PublicComplaint, 0.8, &["{everyone|everybody|the whole village|the whole town|the whole street|the whole school|all my friends|the world|my followers|followers|my audience}"])
        .near(&["hear about", "know about", "find out", "going to hear", "going to know", "will know", "will hear", "decide", "judge", "see this", "see what", "know what", "know how", "hear how"])
        .blocks(PRAISE),
    rule(PublicComplaint, 0.8, &[
        "{google|google reviews|yelp|trustpilot|facebook|instagram|insta|tiktok|twitter|nextdoor|reddit|youtube|linkedin|social media|socials|tripadvisor|google maps|blog|forums|forum|local forums|facebook group|neighbourhood facebook group|neighborhood group|mumsnet|the internet}",
        "{hacker news|threads|bluesky|mastodon|feefo|checkatrade|rated people|angi|angie's list|homeadvisor|thumbtack|g2|capterra|product hunt|app store|play store|whatsapp|whatsapp group|group chat|community page|community group|parents group|school group|local group|neighbourhood group|mums group|moms group|nct group|street group|village group|reviews|review sites|review site|online|redes|redes sociales|reseaux|reseaux sociaux|presse|prensa|medios|zeitung|internet}",
    ])
    .near(&[
        "post", "posting", "posted", "put this", "putting", "put all", "write", "writing", "leave",
        "leaving", "left", "share", "sharing", "tell", "telling", "tag", "expose", "warn", "thread",
        "going up", "updating", "recording", "1 star", "one star", "know what", "know how",
        "publish", "going straight", "story", "about this", "about you", "avis", "berichten",
        "schreibe", "publicar", "scam", "honest", "bad", "negative", "terrible", "awful", "avoid",
        "stay away", "steer clear", "everyone", "everybody", "people know", "the world",
        "write up", "review you", "rate", "rating", "post about", "all about", "tell every",
        "contar", "contarlo", "resena", "opinion", "critica", "publier", "raconter", "partager",
        "bewertung", "posten", "erzahlen", "veroffentlichen", "contando", "contare", "poner",
    ])
    .blocks(PRAISE)
    // The service's own posts are not a customer's public complaint.
    .also_blocks(&[
        "you posted", "your engineer", "your team", "your staff", "your support", "your employee",
        "someone on your team", "your tech", "your developer", "your agent",
    ]),
    // ---- regulator ----
    rule(Regulator, 0.85, &[
        "{bbb|better business bureau|dental board|medical board|state board|licensing board|nursing board|board of dentistry|board of medicine|attorney general|attorney general's office|consumer protection|consumer ombudsman|ombudsman|cfpb|ftc|federal trade commission|ico|information commissioner|data protection authority|data protection authorities|data protection commissioner|cnil|trading standards|gas safe|insurance commissioner|commissioner|ofgem|ofcom|health department|department of health|cqc|care quality commission|gdc|general dental council|gmc|general medical council|licensing authority|watchdog|regulator|the authorities|consumer affairs|fair trading}",
        "{oficina de consumo|consumo|omic|ocu|facua|defensor del consumidor|proteccion de datos|aepd}",
        "{ordre des+|ordre des medecins|ordre des dentistes|dgccrf|cnil|mediateur|defenseur des droits|ars}",
        "{verbraucherzentrale|datenschutzbeauftragte+|datenschutzbehorde|arztekammer|arztekammer|aufsichtsbehorde|bundesnetzagentur|schlichtungsstelle|landesdatenschutz+}",
        "{supervisory authority|supervisory authorities|data protection commission|data protection regulator|data protection office|data protection board|dpc|privacy commissioner|privacy regulator|privacy watchdog|office of the privacy commissioner}",
        "{fca|financial conduct authority|financial ombudsman|energy ombudsman|ofwat|hse|health and safety executive|nmc|hcpc|gphc|healthwatch|phso|environmental health|public utilities commission|puc|department of consumer affairs|contractors state license board|contractor licensing board|contractors board|cslb|dental council|medical council|pharmacy board|board of pharmacy|state medical board|state dental board|fcc|osha|office for civil rights|hhs|hipaa complaint|state ag|ag's office|ags office|consumer council|advertising standards|asa|niceic|napit|licensing department|building control}",
        "{zahnarztekammer|landeszahnarztekammer|bundeszahnarztekammer|landesarztekammer|handwerkskammer|ihk|verbraucherschutz|bafin|gewerbeaufsicht|datenschutzaufsicht|gesundheitsamt|kassenzahnarztliche vereinigung}",
        "{ordre des chirurgiens dentistes|conseil de l ordre|arcep|autorite de controle|repression des fraudes|agence regionale de sante|defenseur des droits|mediateur de la consommation}",
        "{colegio de dentistas|colegio de odontologos|colegio de medicos|colegio oficial|hoja de reclamaciones|hojas de reclamaciones|oficina del consumidor|defensa del consumidor|agencia de proteccion de datos|consejeria de sanidad|inspeccion de sanidad|sanidad}",
    ])
    .near(REPORT_WORDS)
    .blocks(&[
        "accredit+", "licensed", "licence number", "license number", "registered",
        "registration number", "work at", "worked at", "used to work", "i work", "member of",
        "certified by", "approved by", "old provider", "previous provider", "their customers",
    ]),
    // ---- billing_dispute ----
    rule(BillingDispute, 0.85, &[
        "{charged|billed|debited|invoiced|charging|charge} {me|us|my card|our card|my account|our account|my bank|my credit card|} {twice|two times|double|2x}",
        "double {charge+|billed|billing|charging}", "duplicate {charge|payment|transaction|debit|invoice}",
        "{came out|taken|went out|deducted|debited} twice", "charged twice",
        "{want|need|demand|expect|request|requesting|like|deserve|waiting for|waiting on|chasing|give me|get|still owed|owed|owe me|promised|where is|where's|wheres|issue|issue a|processing my} {a|my|the|our|full|a full|your|} {refund|reimbursement|money back|credit|service credit|service credits|credit note|pro rata refund|partial refund}",
        "refund {please|pls|plz|me|it|us|the|this|both|one|that|my|the difference|the extra|immediately|asap|them|those|in full}",
        "please refund", "full refund", "partial refund", "refund for {it|this|the|my|a}",
        "{haven't|havent|have not|hasn't|hasnt|not|never} {got|gotten|received|had|seen|come through} {my|the|a|any|our|} {refund|money|credit|reimbursement}",
        "refunded {the wrong|only|half}", "refund the {difference|extra|duplicate|fee|charge|deposit}",
        "{want|need|like|expect|demand|would like} {it|them|both|that|this|the extra seats|the remaining sessions|the fee|the charge|the deposit|the difference|my deposit|} refunded",
        "{want|need|get|give|have} {my|our|the|me my|us our} money back", "money back",
        "{reverse|remove|waive|dispute|disputing|refund|credit|take off|cancel} {the|this|that|these|those|one of the|one of them|both|the extra|the second} {00|} {charge+|fee|fees|payment+|invoice|difference|duplicate|amount|seats|charges|debit}",
        "reverse one", "reverse the charge", "take {it|that|this|the charge|the fee} off {my|our|the} {bill|account|invoice|statement|card}",
        "take that off", "could you take it off", "take it off",
        "take {the|that|this} {00|} {late|cancellation|admin|booking|delivery|no show|missed appointment|call out|callout|restocking|} {fee|charge|fees|charges} off",
        "chargeback", "charge back", "dispute it with", "dispute the charge",
        "overcharg+", "overbill+", "over charged", "i'm owed", "im owed", "i am owed", "still owed",
        "wrong amount", "corrected invoice", "correct the invoice", "fix the invoice",
        "not paying for",
        "credit the difference", "credited to our account", "be credited",
        "refusing to refund", "refuse to refund", "refused to refund",
        "{reembolso|reembolsen|devuelvan|devuelvanme|devolucion|devolverme|devuelva|devuelven}",
        "{cobraron|cobrado|cobrar} {dos veces|de mas|doble}",
        "{debite deux fois|facture deux fois|double facturation|debite mais|jamais recu mais}",
        "{zuruckerstat+|ruckerstat+|erstattung|ruckerstatung|ruckerstattung|zuruckerstatten|zuruckerstattung|doppelt berechnet|doppelt abgebucht|geld zuruck|gutschrift}",
    ]).also_blocks(&[
        "competitor", "another supplier", "other supplier", "my old", "my previous",
        "previous provider", "old provider", "switching to you", "another company",
    ]).blocks(&[
        "is it true", "if we cancel", "if we cancelled", "if i cancelled", "gracias por", "recibido",
        "ya lo", "merci pour", "bien recu", "danke fur", "erhalten", "thanks for the refund",
        "policy", "came through", "got my refund", "received the refund", "refund arrived",
        "thanks for crediting", "thank you for crediting", "showed up", "is it possible",
        "how do i", "how long", "when will", "hypothetical+", "if i cancel", "would that be",
        "do you charge", "do you offer", "happy to pay", "never mind", "ignore me", "confirm",
        "reconcil+", "will i be charged", "per message", "not disputing", "guarantee",
        "politica", "politique", "richtlinie", "condiciones", "en oferta",
    ]),
    // French refunds, apart: "rembourser les réparations" asks for damages, not a refund.
    rule(BillingDispute, 0.85, &["rembours+"]).blocks(&[
        "reparations", "reparation", "travaux", "dommages", "degats", "prejudice", "politique",
        "est il possible", "comment", "combien de temps", "merci pour le", "bien recu", "ai recu",
    ]),
    // Charges made in error, chased refunds, refusals to pay.
    rule(BillingDispute, 0.85, &[
        "{charged|billed|invoiced|debited} {me|us|my card|our card|my account|our account|} {in error|by mistake|incorrectly|wrongly|by error|for nothing|anyway|regardless|again|before the trial|during the trial|early|too early}",
        "{charged|billed|invoiced|debited} {me|us|my card|our card|my account|our account|} before {the trial|my trial|the free trial|it|i}",
        "{incorrectly|wrongly|mistakenly|erroneously|unfairly|still} {charged|billed|invoiced|debited}",
        "{you|they|it|you've|you have|you guys} still {charged|billed|invoiced|took payment|took the money|debited}",
        "{incorrect|wrong|erroneous|unauthorised|unauthorized|unexpected|mystery|bogus|fraudulent|unfair|hidden|disputed|unrecognised|unrecognized} {00|} {charge|charges|fee|fees|payment|debit|debits|transaction|transactions|bill|invoice}",
        "{shouldn't|should not|shouldnt} have been {charged|billed|invoiced|debited}",
        "{chase|chasing|chased} {the|my|a|our|this} {refund|reimbursement|credit}",
        "{request|requests|requested|requesting|asked for|asking for|ask for} {for|} {a|the|my|our|your} {00|} {refund|reimbursement}",
        "{like|want+|need|expect|demand|get|have} {my|our|the} {00|} {deposit|money|payment|fee|fees|funds} {back|returned|refunded|repaid}",
        "{deposit|money|payment|fee|fees|cash|funds} back",
        "{my|the|our} {00|} {deposit|money|payment|funds|refund} {still|} {hasn't|has not|hasnt|isn't|is not|isnt|haven't|havent|not|never|still isn't|still hasn't} {been|} {back|returned|refunded|arrived|come back|come through|credited|appeared|shown up|landed|processed}",
        "{still|been|keep|am} waiting {for|on} {my|the|a|our|your|that} {00|} {refund|money|credit|reimbursement}",
        "{where is|where's|wheres|what happened to|any update on|status of|still no} {my|the|our|a} {00|} {refund|money|credit|reimbursement}",
        "{won't|will not|wont|refuse to|am not going to|are not going to|not going to|i won't|we won't} pay {for|this|that|the|it|a penny|anything}",
        "{reissue|re issue|correct|amend|fix|adjust|redo|revise|re send} {the|this|our|my|a} {corrected|} {invoice|bill|statement}",
        "{charge|fee|payment|debit|transaction|charges|fees|amount} {is|isn't|isnt|to be|be|gets|get|was|wasn't|been|} {reversed|refunded|removed|voided|credited|waived|taken off}",
        "{not|won't|wont|refuse to|never|am not|i'm not|im not} {paying|pay} {a|the|this|that|your|any} {00|} {cancellation|late|no show|admin|call out|callout|booking|restocking|missed appointment|} {fee|charge|bill|invoice|penalty}",
        "{not|won't|wont|refuse to|never|am not|i'm not|im not} {paying|pay} {the|this|that|an|any} {extra|difference|surcharge|increase|balance|excess|additional|rest}",
        "{refund|full refund|my money back|a refund} or {a|} {replacement|exchange|repair|credit}",
        "{credit|refund|pay|put} {it|this|that|the money|the charge|the fee|the difference} back",
        "should {have been|be} {waived|free|covered|included|refunded|credited|removed|free of charge}",
        "{devolvais|devolveis|devolvieron|devolverme|devolvernos} el {dinero|importe|pago}",
        "{dispute|disputing|disputed|contest|contesting|challenge|challenging|query|querying} {the|this|that|a|my|these|our} {00|} {charge|charges|fee|fees|bill|invoice|payment|transaction|debit}",
        "{initiate|start|file|open|raise|do|put in|starting|filing|opening|raising} a {chargeback|charge back|payment dispute|dispute with my bank|dispute with the bank}",
        "{still|keep|keeps|kept} {charging|billing|taking|debiting|invoicing} {me|us|money|payments|my card}",
        "{cancelled|canceled|cancel} {but|and} {still|you still|was still|were still|got|have been|keep getting} {charged|billed|invoiced|debited}",
        "{charged|billed|invoiced} {me|us} {after|even though|despite|although|when}",
        "{took|taken|take|taking} {money|payment|the money|my money|our money|funds} {twice|again|without}",
        "{took|taken|kept|keeping|pocketed} my money", "{kept|keep|keeping} {my|the|our} deposit",
        "{refund|reimburse|credit} {me|us} for", "{want+|would like|like} {it|them|this|that|the fee|the charge} refunded",
        "{devuelven|devolver|devuelvan|reembolsar|reintegrar} {el|mi|los|la} {dinero|importe|pago|deposito|cobro}",
        "{cobro|cargo} {indebido|duplicado|erroneo|doble|no autorizado}", "{cobraron|cobrado} {igual|de todas formas|sin|por un}",
        "{me|nos} {cobraron|han cobrado|cobrasteis} {dos veces|de mas|doble|igual|sin}",
        "{anular|anulen|cancelen} el {cargo|cobro}", "no {pienso|voy a|vamos a} pagar",
        "{preleve|prelevee|debite|debitee|facture|facturee} {deux fois|2 fois|a tort|sans|en double}",
        "{prelevement|debit|facturation|paiement} {a tort|en double|non autorise|injustifie|errone}",
        "double {paiement|prelevement|facturation|debit}", "je ne {paierai|payerai|vais pas payer}",
        "{annuler|annulez|rembourser|remboursez} {le|ce|les|la} {prelevement|paiement|debit|facture|montant}",
        "{erstatten|zuruckzahlen|zuruckuberweisen|gutschreiben} sie", "{betrag|geld|anzahlung|kaution} {erstatten|zuruck|zuruckerstatten|zuruckzahlen}",
        "{doppelt|zweimal|falsch|zu viel|unberechtigt|ungerechtfertigt} {abgebucht|berechnet|belastet|bezahlt|abgerechnet}",
        "{ruckbuchung|lastschrift zuruck|storno|stornieren sie}", "{zahle|zahlen} {ich|wir} nicht",
        "geld wurde abgebucht", "{abgebucht|berechnet} {obwohl|aber nie|aber nicht}",
    ]).blocks(&[
        "policy", "politica", "politique", "richtlinie", "condiciones", "conditions",
        "is it possible", "how do i", "how long", "when will", "hypothetical+",
        "if i cancel", "would that be", "do you charge", "do you offer", "happy to pay",
        "never mind", "ignore me", "confirm", "reconcil+", "will i be charged", "per message",
        "not disputing", "guarantee", "got my refund", "received the refund", "refund arrived",
        "competitor", "another supplier", "other supplier", "another company", "other company",
        "previous provider", "old provider", "my old", "my previous", "with them",
        "came through", "thanks for crediting", "thank you for crediting", "thanks for the refund",
        "thank you for the refund", "reparations", "repairs", "damages", "dommages", "damage",
        "damaged", "cost of",
    ]),
    // Money taken with a sign it should not have been: "why has £49.99 come out of my
    // account when I cancelled", "billed for a visit that never happened".
    rule(BillingDispute, 0.75, &[
        "{come|came|gone|went|been taken|taken|debited|deducted} {out of|from} {my|our} {account|card|bank|bank account|credit card}",
        "{took|taken|take|charged|debited|deducted|removed|withdrew|withdrawn} {00} {from|off|out of} {my|our} {card|account|bank|bank account|credit card}",
        "{charge|charges|fee|fees|debit|payment|payments|facture|facturation|prelevement|cobro|cargo|abbuchung|lastschrift}",
        "{facture|facturee|factures|preleve|debite|cobraron|cobrado|abgebucht|berechnet} {me|m|nous|une|un|la|le|el|la|die|den|das|}",
    ])
    .near(&[
        "cancelled", "canceled", "cancel", "never", "didn't", "didnt", "not received", "wrong",
        "mistake", "error", "twice", "reverse+", "refund+", "remove", "dispute+", "why", "jamais",
        "nunca", "nie", "annule", "annulee", "cancelado", "cancelada", "storniert", "gekundigt",
        "kundigung", "n a jamais", "jamais eu lieu", "de baja", "darme de baja", "desabonne",
        "resilie", "resiliation", "no se hizo", "nicht stattgefunden",
        "never happened", "didn't happen", "never took place", "without", "sin", "sans", "ohne",
    ])
    .blocks(&[
        "policy", "is it possible", "how do i", "how long", "when will", "will i be charged",
        "will i be", "if i cancel", "if we cancel", "would that be", "do you charge", "do you offer",
        "happy to pay", "confirm", "reconcil+", "per message", "not disputing", "what is the",
        "how much", "competitor", "another supplier", "other supplier", "another company",
        "previous provider", "old provider", "waived", "thanks for", "thank you for", "no charge",
        "free of charge", "politica", "politique", "combien", "cuanto", "wie viel",
    ]),
    // A refund being chased: the word with signs it is owed and missing.
    rule(BillingDispute, 0.75, &["{refund|refunds|reimbursement|refunded|reembolso|remboursement|ruckerstattung|erstattung}"])
    .near(&[
        "still", "waiting", "chase+", "owed", "owe", "promised", "where", "yet", "overdue",
        "haven't", "havent", "hasn't", "hasnt", "isn't", "isnt", "never", "not received",
        "missing", "weeks ago", "days ago", "month ago", "months ago", "nothing", "todavia",
        "sigo esperando", "aun no", "toujours pas", "attends", "jamais", "noch nicht",
        "immer noch", "warte", "bis heute",
    ])
    .blocks(&[
        "policy", "is it possible", "how do i", "how long does", "how long will", "when will",
        "if i cancel", "would that be", "do you offer", "confirm", "got my refund", "received the refund",
        "refund arrived", "came through", "showed up", "thanks for", "thank you for", "eligible",
        "receipt", "can i get", "could i get", "do i get", "would i get", "will i get", "are sale",
        "refundable", "non refundable",
    ]),
    rule(BillingDispute, 0.75, &[
        "{charged|billed|charge|charging|invoiced|took} {me|us|my insurer|my insurance|the insurance|my insurance company|our insurer|} {for|a|an}",
        "{paid|paying|pay} for", "{invoice|bill|statement} {includes|included|shows|showed|has|lists|still shows|still includes|still has}",
    ])
    .near(&[
        "never", "didn't", "didnt", "did not", "wasn't", "wasnt", "cancel+", "no show", "not received",
        "never received", "never arrived", "never turned", "never used", "only have", "only",
        "covered", "included", "wrong", "mistake", "didn't even", "still", "not",
        "downgrad+", "removed", "cancelled", "canceled", "never came", "never showed",
        "never turned up", "didn't turn up", "no show", "wasn't delivered", "never delivered",
        "refund+", "money back",
    ])
    .blocks(&[
        "confirm", "reconcil+", "when will", "will i be", "do you charge", "per message", "how is",
        "what is", "policy", "pending", "go through", "intentional", "happy to pay", "is it",
        "if i", "not disputing", "explain the",
    ]),
    // ---- repeat_contact ----
    rule(RepeatContact, 0.85, &[
        "{second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|nth|umpteenth|tenth} {email|emails|message|msg|request|follow up|followup|follow-up|voicemail|call|attempt|letter|chat|ticket|reminder|complaint}",
        "{nobody|no one|noone|none of you|nobody has|no one has|nobody's|nobodys|no-one} {got|gotten|get|gets|has got|has gotten|ever gets|ever got|came|come|ever} back",
        "{nobody|no one|noone|no-one} {replies|replied|responded|responds|answered|answers|has replied|has responded|has called|called me back|calls me back|bothered}",
        "{still no|not a single|no} {reply|response|answer|callback|call back|word back|replies}",
        "{haven't|havent|have not|hasn't|hasnt|not|never} {heard back|had a reply|had a response|had an answer|received a reply|received a response|gotten a response|got a reply|got a response|heard anything|heard a thing|had a call back|had a callback}",
        "{keep|keeps|kept|are} ignoring", "ignoring {me|us|my}",
        "{following|chasing} {up|this} again", "follow up again", "following up again",
        "{been chasing|chasing this|chasing since|chasing for}",
        "{emails|messages|calls|voicemails|requests} {were|went|have been|have gone|} {not answered|unanswered|ignored}",
        "how many times",
        "{called|emailed|rang|phoned|written|messaged|contacted|asked|chased|raised this|raised it} {you|} {twice|two times|three times|four times|five times|3 times|4 times|5 times|several times|multiple times|many times|numerous times|countless times|repeatedly|over and over|again and again|a dozen times}",
        "{raised|reported|requested|asked about|asked for|chased} this {twice|three times|3 times|several times|multiple times|before}",
        "{twice|three times|several times|multiple times} already", "i've called twice", "called twice",
        "emailed {five|four|three|5|4|3} times",
        "{called|emailed|e mailed|rang|rung|phoned|written|wrote|messaged|texted|contacted|asked|chased|tried|reached out|been in touch|left messages|left a message|followed up|raised this|raised it|reported this|reported it|complained|been on the phone|sent messages|sent emails} {you|your office|the office|the clinic|the store|the shop|support|your team|you guys|about this|about it|in|} {two|three|four|five|six|seven|eight|nine|ten|several|multiple|many|numerous|countless|a few|a couple of|a number of|so many|a dozen|2|3|4|5|6|7|8|9|10} times",
        "yet another {email|message|call|chaser|reminder|follow up}",
        "{hasn't|haven't|has not|have not|never|not|didn't|did not} {answered|returned|replied to|responded to|acknowledged} {a single one of|any of|one of|either of|} {my|our} {calls|emails|messages|voicemails|texts|letters|complaints}", "{nobody|no one|noone} {reads|read|checks|is reading|monitors|looks at} {these|this|them|my|the|your}",
        "following up on my {previous|last|earlier|} {message|email|call|ticket|request|complaint|voicemail|enquiry|query}",
        "{still|am still|i'm still|we're still} {waiting|wait} for {a|any|your|someone's|somebody's|someone to|somebody to|anyone to} {reply|response|answer|call|callback|call back|update|word|get back|respond|answer|ring}",
        "still {haven't|have not|not|havent} {heard|had a reply|had a response|had an answer|received a reply|received a response|had a call}",
        "{previous|last|earlier|prior|other|first|two previous|three previous} {email|emails|message|messages|call|calls|ticket|tickets|request|requests|complaint|complaints|voicemail|voicemails|two emails|three emails} {were|was|went|have been|has been|got|are|all went|all} {not answered|unanswered|ignored|closed|never answered|not replied to|without reply|without a reply}",
        "{closed|resolved|marked as resolved|marked resolved} without {a|any|anyone|anybody|someone|somebody} {reply|replying|response|responding|answer|answering|resolution|fix|contacting|getting back|getting in touch}",
        "{keep|keeps|kept} {getting|being} {ignored|fobbed off|passed around|bounced around|transferred|promised a call}",
        "{fobbed off|passed around|bounced around|runaround|run around} {again|every time|each time|for weeks|for months}", "pillar to post",
        "{no one|nobody|noone|no-one|none of you} {ever|has ever|has|have|bothers to|bothered to} {reply|replies|replied|respond|responds|responded|answer|answers|answered|call|calls|called|rings|rang|return+|get back|got back|gets back}",
        "{every time|each time} i {call|phone|ring|email|write|chat}",
        "{still|yet again|once again} no {reply|response|answer|callback|call back|word|update}",
        "{segunda|tercera|cuarta|quinta} vez", "{varias|muchas|tres|cuatro|cinco} veces",
        "{nadie|ninguno} {me|nos|} {contesta|responde|ha contestado|ha respondido|llama|ha llamado|devuelve|contestan|responden}",
        "sin {respuesta|contestacion}", "no me han {contestado|respondido|llamado}", "sigo esperando {respuesta|una respuesta|la llamada}",
        "{deuxieme|troisieme|quatrieme|cinquieme|enieme|nieme|2e|3e|4e} {fois|relance|mail|message|appel|demande}",
        "personne ne {repond|rappelle|m a repondu|m a rappele|nous repond|me repond|m a recontacte}",
        "{toujours|encore|toujours aucune|toujours pas de} {pas de reponse|aucune reponse|reponse|pas de nouvelles|pas de retour|sans reponse}",
        "sans {reponse|retour|nouvelles} {depuis|de votre|de vous|a mes}", "{plusieurs|trois|quatre|cinq} {fois|mails|messages|appels|relances}", "{je vous|je|nouvelle} relance",
        "{zweimal|dreimal|viermal|funfmal|mehrmals|mehrfach|x mal|zigmal|wiederholt|bereits|schon} {angerufen|geschrieben|gemailt|nachgefragt|gemeldet|reklamiert|kontaktiert}",
        "niemand {ruft|meldet|antwortet|hat geantwortet|hat sich gemeldet|ruft zuruck|hat zuruckgerufen}",
        "{keine|noch keine|immer noch keine|bis heute keine|nie eine} {antwort|ruckmeldung|reaktion|ruckruf}",
        "{zweite|dritte|vierte|funfte} {mal|mail|nachricht|anfrage|erinnerung|mahnung}", "zum {zweiten|dritten|vierten|funften} mal",
    ]).blocks(&[
        "forgot", "forget", "sorry", "{second|third|fourth|2nd|3rd|4th|next|another|follow up|new} {appointment|visit|session}",
        "appointment again", "reschedul+", "busy",
        "line was", "one went fine", "second text", "another thing", "one more thing", "also wanted",
        "forget+", "forgetting",
    ]).literal(),
    // Writing again: a repeat unless it is about a later time ("calling again tomorrow").
    rule(RepeatContact, 0.85, &[
        "{writing|calling|emailing|messaging|contacting|chasing|ringing|phoning|texting|reaching out|getting in touch|following up|asking} {you|about this|about it|} again",
    ])
    .blocks(&[
        "tomorrow", "later", "next week", "to confirm", "to book", "to reschedule", "in an hour",
        "this afternoon", "on monday", "forgot", "sorry",
    ])
    .literal(),
    // "The third time": a repeat only when it is about getting in touch ("the third time
    // I'm writing"), not about the fault ("the third time the boiler failed").
    rule(RepeatContact, 0.85, &[
        "{second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|nth|umpteenth|tenth|seventh|eighth} time",
    ])
    .near(&[
        "writing", "write", "wrote", "written", "emailing", "email+", "calling", "call", "called",
        "ringing", "ring", "rang", "rung", "phoning", "phone", "phoned", "asking", "asked", "ask",
        "contacting", "contact+", "chasing", "chased", "chase", "raising", "raised", "reporting",
        "reported", "report", "complaining", "complained", "messaging", "messaged", "message",
        "texting", "texted", "following up", "follow up", "reached out", "reaching out", "telling",
        "told you", "explaining", "explained", "requesting", "requested", "sending", "sent",
        "spoken", "speaking", "spoke", "get in touch", "getting in touch", "been in touch",
        "on the phone", "on hold", "chat", "ticket", "nobody", "no one", "no reply", "no response",
    ])
    .blocks(&[
        "forgot", "forget+", "sorry", "appointment", "visit", "session", "reschedul+", "busy",
        "line was", "lucky", "charm", "winner", "in a row", "this year", "love+", "customer",
        "ordered", "order", "buying", "bought", "shopping",
    ])
    .literal(),
    // Raised before and again: "I raised this in January and again in March".
    rule(RepeatContact, 0.8, &[
        "{raised|reported|flagged|logged|mentioned|chased|emailed about|called about|rang about|complained about|told you about} {this|it|the issue|this issue|the problem|this problem|the fault|this fault}",
    ])
    .near(&[
        "and again", "again in", "again on", "again last", "still open", "still not", "still waiting",
        "still broken", "still happening", "twice", "several times", "months ago", "weeks ago",
        "nothing has", "nothing's", "no one", "nobody",
    ])
    .blocks(&["if it happens again", "again tomorrow", "again later", "forgot", "sorry", "just wanted"])
    .literal(),
    // A count of contacts with a sign they went unanswered: "three emails, zero answers".
    rule(RepeatContact, 0.8, &[
        "{two|three|four|five|six|several|multiple|numerous|countless|many|2|3|4|5|6|a few|a couple of} {emails|calls|phone calls|voicemails|messages|chats|tickets|requests|letters|texts|complaints|attempts|follow ups|reminders}",
    ])
    .near(&[
        "no reply", "no response", "no answer", "nothing", "still", "nobody", "no one", "noone",
        "ignored", "unanswered", "not one", "zero", "haven't heard", "havent heard", "yet",
        "already", "later", "and counting", "without", "no word", "not a single", "no callback",
        "no call back", "where is", "where's", "acknowledg+", "not had", "not even", "so much as",
        "heard nothing", "nothing back",
    ])
    .blocks(&["forgot", "sorry", "appointment", "reschedul+", "per month", "a day", "per day", "limit", "plan includes"]),
    // ---- safety_risk ----
    rule(SafetyRisk, 0.9, &[
        "{smell+|smelt|smells|smelling|odour|odor|whiff|stink+|reek+} {of |like |}gas", "gas {smell+|leak+|odour|odor}",
        "{leaking|hissing|escaping} gas", "carbon monoxide", "co alarm", "co alarms",
        "{spark|sparks|sparking|sparked}", "live {wire|wires|cable|cables|wiring}", "exposed {wire+|cable+|wiring}", "electric shock",
        "{data|privacy|security} {breach|leak}", "leaked {data|credentials|password+|keys|our}",
        "{someone|somebody|a hacker|hackers} {got into|logged into|accessed|broke into|has access to|hacked}",
        "{account|accounts} {was|has been|have been|got|were} {hacked|compromised|taken over|accessed}",
        "hacked", "compromised", "someone else's {name|names|data|details|records|address|order|orders|information|info|results|history}",
        "{another|other} {patient's|patients|patient|customer's|customers|customer|person's|persons|client's|clients} {full|} {name|names|data|details|records|record|address|order|orders|treatment plan|treatment|x-rays|information|info|results|history|emails|medical|home address}",
        "still has {admin |}access",
        "{huele|olor} a gas", "fuga de {gas|datos}", "hackead+", "hackearon", "brecha de datos",
        "odeur de gaz", "fuite de {gaz|donnees}", "pirate", "etincelles",
        "nach gas", "gasgeruch", "gasleck", "datenleck", "datenpanne", "gehackt", "funken",
        "zugangsdaten wurden",
        "co {detector|detectors|monitor|monitors}", "{carbon monoxide|co} {detector|alarm|monitor} {going off|gone off|went off|goes off|beeping|sounding|keeps beeping|triggered}",
        "{smell|smells|smelt|smelled|smelling} {of|like|something|} burning", "burning {smell|smells}", "smell of burning",
        "{smoke|smoking} {coming|pouring|came|billowing} {from|out of}",
        "{socket|plug|outlet|switch|fuse box|fusebox|wire|wires|cable|cables|wiring|consumer unit|breaker|light fitting} {is|was|are|were|keeps|started|} {smoking|melting|melted|scorched|charred|burning|crackling|sparking|arcing}",
        "{melted|scorched|charred|burnt|burned|smoking} {socket|sockets|plug|outlet|wire|wires|cable|cables|wiring|switch|fuse box}",
        "{bare|stripped|hanging|dangling} {wire|wires|cable|cables|wiring}", "{wire|wires|cable|cables|wiring} {hanging|sticking|poking} out",
        "{got|getting|gets|received|took|had} {a|an} {electric|electrical|} shock", "{shocked|electrocuted} {me|him|her|my|the|us|our}", "electrocut+",
        "{fumes|exhaust fumes|flue gas|exhaust} {leaking|coming|escaping|into|in the|filling}", "{leaking|escaping} fumes", "flue {is|was|} leaking",
        "{gas|boiler|meter|pipe|cooker|hob|heater|valve} {is|was|keeps|started|} hissing",
        "{someone|somebody|hackers|a hacker|an attacker|a stranger|someone else|somebody else} {logged in|logged into|signed in|signed into|accessed|got into|broke into|is using|has been using|used|took over|changed the password on|reset the password on} {my|our|the} {account|accounts|email|system|admin|login|profile|mailbox}",
        "{account|login|email|mailbox|profile} {was|has been|got|were} {logged into|accessed|used|signed into} from",
        "{logged|signed} {into|in} from {a|an|another|brazil|russia|china|abroad|overseas|a country|somewhere}",
        "login from {a|an} {unknown|unrecognised|unrecognized|different|strange|foreign} {location|country|device|ip}",
        "{login|log in|sign in|signin} {alert|alerts|notification|notifications|attempt|attempts} from",
        "{suspicious|unauthorised|unauthorized|unrecognised|unrecognized} {login|logins|log in|sign in|sign ins|access|activity|device|devices}",
        "{password|email address|2fa|recovery email|phone number} {was|has been|got} {changed|reset} {without|by someone|by somebody}",
        "{card details|card number|credit card|bank details|payment details|passwords|password|credentials|login details|personal data|personal details|customer data|patient data|medical records|our data|my data|customer records|patient records} {were|was|have been|has been|got|are|is} {stolen|leaked|exposed|compromised|hacked|published|visible to|public|posted|sold|shared with}",
        "{leaked|exposed|exposes|exposing|published|posted|disclosed|revealed|shared|sent out|emailed out} {my|our|their|his|her|customer|customers|patient|patients|user|users|client|clients|personal|private|sensitive|medical|card|bank|all our|all my} {data|details|information|info|records|emails|email addresses|addresses|phone numbers|numbers|files|documents|card details|passwords|credentials|results|history|diagnosis|status|invoices|names|login|login details|password|api key|api keys}",
        "{someone else's|somebody else's|another person's|other people's|other peoples|a stranger's|strangers|different patient's|another family's} {portal|patient portal|session|login|profile|dashboard|inbox|home address|full name|full address|contact details|phone number|mobile number|date of birth|name|names|data|details|records|record|address|addresses|order|orders|invoice|invoices|information|info|results|test results|test|history|emails|email|phone numbers|medical|medical records|treatment plan|x rays|xrays|files|documents|prescription|prescriptions|card details|payment details|photos|messages|tickets|account|bank details|diagnosis|appointments|notes|letter|letters|paperwork|bill|statement}",
        "{other|another|different} {patients|patient's|customers|customer's|users|user's|tenants|tenant's|clients|client's|people's|peoples|families|family's|companies|company's|accounts|account's} {full|personal|private|home|} {name|names|data|details|records|record|address|addresses|order|orders|invoice|invoices|information|info|results|history|emails|email addresses|phone numbers|numbers|files|documents|prescriptions|test results|card details|payment details|photos|messages|tickets|account|accounts|conversations|notes|order data|medical records|treatment plans|x rays}",
        "{data|security|privacy} {incident|exposure|leak|leaks|breach|breaches|violation}", "{your|the|this} breach", "{fraud|fraudulent} {alert|alerts|transactions|activity|use}", "ransomware", "malware", "keylogger", "sim swap",
        "{clicked|fell for|opened} {a|the|your} phishing", "phished",
        "huele {mucho|muchisimo|fuerte|bastante|un poco|como} a gas", "monoxido de carbono", "detector de {monoxido|co}",
        "{cable|cables} {pelado|pelados|expuesto|expuestos|suelto|sueltos|al aire|a la vista}", "chispas", "chispea+", "descarga electrica",
        "{datos|facturas|pedidos|direcciones|historial|expedientes|resultados|informes|correos} de {otro|otra|otros|otras} {paciente|pacientes|cliente|clientes|usuario|usuarios|persona|personas}", "filtracion de datos", "filtraron", "cuenta {hackeada|comprometida|robada}",
        "{ca|cela} sent le gaz", "sent le gaz", "monoxyde de carbone", "{fils|cables} {denudes|a nu|exposes|apparents}", "decharge electrique",
        "{expose|exposees|exposes|divulgue|divulguees|publie|publiees|fuite} {les|nos|vos|des|mes|toutes les} donnees", "donnees {personnelles|medicales|de sante|de nos clients|des clients|d autres clients|d autres patients} {exposees|divulguees|accessibles|publiques|visibles|en ligne}", "piratage", "compte pirate",
        "kohlenmonoxid", "{co melder|co warnmelder|kohlenmonoxidmelder}", "stromschlag", "{blanke|freiliegende|offene} {kabel|leitungen|drahte}", "kabel {liegen frei|hangen raus|ragen heraus}",
        "fremde daten", "daten {anderer|von anderen} {kunden|patienten|nutzer}", "{konto|account} {gehackt|kompromittiert|ubernommen}", "unbefugter zugriff", "{daten|kundendaten|patientendaten} {offengelegt|geleakt|einsehbar|offentlich}",
    ]).blocks(&[
        "process", "policy", "procedure", "what do you do", "if there's ever", "if there is ever",
        "response plan", "your plan", "a plan", "incident response", "of contract", "sla",
        "just the battery", "low battery", "battery", "it was me", "legit", "how do we",
        "change my password", "to be safe", "breaches in", "sla breach+", "training",
        "awareness", "simulation", "test email", "what's the process", "do you have",
        "resetting my", "forgot my password", "reset my password", "no smell", "not smell",
        "gas safe registered", "annual check", "to test", "old provider", "previous provider",
        "neighbour's house", "neighbours house", "neighbor's house", "next door", "not ours",
        "questionnaire", "how you handle", "how do you handle", "walk me through", "vendor",
        "due diligence", "soc 2",
        "former provider", "former vendor", "old vendor", "last vendor", "previous vendor",
        "another company", "other company",
    ]),
    rule(SafetyRisk, 0.85, &["{api|secret|private|access|production api|production} {key|keys|token|tokens}"])
        .near(&["exposed", "leaked", "public", "publicly", "pasted", "published", "visible", "posted", "shared", "rotate", "saw it"]),
    rule(SafetyRisk, 0.85, &[
        "{electrics|fuse box|fusebox|light fitting|consumer unit|socket|sockets|plug socket|wiring|switchboard|breaker box}",
        "{light|ceiling rose|ceiling light|light fixture|light fittings|lights|downlight+|spotlight+|extractor fan|outlet|outlets|plug|plugs|light switch|switch|electrical panel|junction box|enchufe|enchufes|prise|prises|steckdose+|sicherungskasten}",
    ])
    .near(&["water", "leak+", "drip+", "pour+", "wet", "flood+", "running into", "spark+", "agua", "gotea", "eau", "fuite", "wasser", "tropft"]),
    // Hissing near gas, and data words near exposure.
    rule(SafetyRisk, 0.8, &["{hissing|hisses|hissed}"]).near(&["gas", "meter", "boiler", "pipe", "hob", "cooker", "valve", "smell+"]),
    rule(SafetyRisk, 0.8, &["{leak|leaked|leaking|leaks}"])
        .near(&[
            "data", "records", "emails", "email addresses", "passwords", "password", "credentials",
            "keys", "tokens", "personal", "card details", "medical", "addresses", "phone numbers",
            "information", "info", "customer", "customers", "patient", "patients", "users",
        ])
        .blocks(&[
            "process", "policy", "procedure", "if there's ever", "if there is ever", "if we ever",
            "response plan", "what's the process", "do you have", "how do we", "how should",
            "water", "pipe", "roof", "tap", "sink", "toilet", "shower", "bath", "radiator",
            "ceiling", "boiler", "gas", "oil", "tyre", "tire", "old provider", "previous provider",
            "former provider", "former vendor", "another company",
        ])
        .also_blocks(POLICY_QUESTIONS),
    rule(SafetyRisk, 0.8, &["{expos+|breach|breached|visible|accessible|readable|publicly downloadable|publicly accessible|publicly visible|publicly available}"])
        .near(&[
            "data", "records", "emails", "email addresses", "passwords", "credentials", "keys",
            "tokens", "customer", "customers", "patient", "patients", "users", "tenants",
            "personal", "invoices", "card details", "medical", "addresses", "phone numbers",
            "other tenants", "other customers", "other users", "other patients", "public",
            "publicly", "anyone", "files", "s3 bucket", "storage bucket", "database", "backup", "backups", "logs",
            "documents", "reports", "exports", "export", "admin", "panel", "dashboard",
        ])
        .blocks(&[
            "process", "policy", "procedure", "if there's ever", "if there is ever", "if we ever",
            "response plan", "contract", "sla", "what's the process", "do you have", "how do we",
            "how should", "gdpr request", "water", "pipe", "roof", "tap", "radiator", "leak test",
            "sun", "exposure therapy", "security questionnaire", "audit", "is it", "is the",
            "are the", "are they", "can it", "should it", "vpn", "security review", "old provider",
            "previous provider", "former provider", "former vendor", "another company",
        ])
        .also_blocks(POLICY_QUESTIONS),
    // Personal details passed on: "who authorised sharing my details with a debt
    // collector".
    rule(SafetyRisk, 0.8, &[
        "{sharing|shared|share|gave|giving|given|passed|passing|sold|selling|disclosed|disclosing|handed|leaked|leaking} {out|on|} {my|our|his|her|their} {personal|private|medical|contact|} {details|data|information|info|records|number|address|email|email address|phone number|medical records|results|diagnosis|history} {with|to}",
    ])
    .blocks(&[
        "please", "can you", "could you", "would you", "new dentist", "new doctor", "my new",
        "consent to", "i consent", "happy for you", "you can", "okay to", "ok to", "i'd like you to",
        "id like you to", "insurer", "referral", "if you need", "do you", "don't share", "dont share",
        "do not share", "never share", "policy",
    ]),
    // Other people's data: "every customer's phone number", "other tenants' invoices".
    rule(SafetyRisk, 0.8, &[
        "{other|another|every|all|different|all the|all our|all your} {customer's|customers|patient's|patients|user's|users|client's|clients|tenant's|tenants|people's|peoples|person's|family's|company's|companies|member's|members|account holder's}",
    ])
    .near(&[
        "name", "names", "data", "details", "records", "address", "addresses", "invoice", "invoices",
        "information", "info", "results", "emails", "email addresses", "phone number",
        "phone numbers", "numbers", "files", "documents", "prescriptions", "card details",
        "payment details", "passwords", "credentials", "x rays", "medical", "orders", "order history",
        "spreadsheet", "personal",
    ])
    .blocks(&[
        "reviews", "review", "like other", "other customers have", "other customers said",
        "affected", "data loss", "like me", "as well", "also", "too",
        "other patients have", "are other", "do other", "have other", "how do other",
        "policy", "process", "if there's ever", "what happens", "gdpr request", "for all our",
        "for all your", "all our customers love", "recommend+", "thank+",
    ]),
    // Medical or personal details told or sent to the wrong people.
    rule(SafetyRisk, 0.8, &[
        "out loud", "in front of everyone", "in front of other {patients|customers|people|clients}",
        "in front of {the|a} {whole|full|} {waiting room|queue|shop|store|office|reception}",
        "{went|sent|gone|emailed|mailed|forwarded|posted|given|handed|faxed|texted|shared} to my {ex|ex husband|ex wife|ex partner|employer|boss|neighbour|neighbor|landlord|colleague|mother in law}",
        "{sent|emailed|mailed|given|handed|faxed|texted|posted} to {the|a} {wrong|different} {patient|person|family|customer|email|email address}",
        "{meant|intended|addressed} for {another|a different|someone else|somebody else|the wrong} {patient|customer|person|client|family|user|}",
        "{went|sent|delivered|forwarded} to {a|the|another|someone else's} {completely|totally|} {different|wrong|another} {company's|companys|customer's|customers|person's|persons|user's|users|patient's|patients|family's} {inbox|account|email|address|phone}",
        "without {my|his|her|our} {consent|permission|knowledge} {to|with}",
    ])
    .near(&[
        "medical", "health", "hiv", "diagnosis", "status", "results", "test", "records", "record",
        "condition", "prescription", "medication", "pregnan+", "mental health", "therapy",
        "x rays", "xrays", "notes", "letter", "reminder", "appointment", "bank", "password",
        "treatment", "history", "scan",
    ]),
];

/// Expands the `{a|b}` groups of a phrase into every concrete phrase.
pub(crate) fn expand(phrase: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_each(phrase, &mut |p| out.push(p.to_owned()));
    out
}

/// Calls `each` with every concrete phrase, in the order of `expand`, building them in one
/// buffer: some phrases expand to tens of thousands.
pub(crate) fn expand_each(phrase: &str, each: &mut impl FnMut(&str)) {
    fn go(rest: &str, buf: &mut String, each: &mut impl FnMut(&str)) {
        let before = buf.len();
        match rest.find('{') {
            None => {
                buf.push_str(rest);
                each(buf);
            }
            Some(open) => {
                let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
                buf.push_str(&rest[..open]);
                let after = rest.get(close + 1..).unwrap_or("");
                let group = rest.get(open + 1..close).unwrap_or("");
                for alternative in group.split('|') {
                    let at = buf.len();
                    buf.push_str(alternative);
                    go(after, buf, each);
                    buf.truncate(at);
                }
            }
        }
        buf.truncate(before);
    }
    go(phrase, &mut String::new(), each);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_alternatives_including_optional_ones() {
        assert_eq!(
            expand("take {you|it} to {small |}court"),
            [
                "take you to small court",
                "take you to court",
                "take it to small court",
                "take it to court",
            ]
        );
        assert_eq!(expand("plain"), ["plain"]);
    }
}
