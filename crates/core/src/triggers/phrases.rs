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
        "{i'll|i will|i wil|ill|i'm going to|im going to|i am going to|i'm gonna|im gonna|gonna|going to|we'll|we will|we're going to|we are going to|he'll|he'd|i'd|will|would|about to|ready to|want to|swear i'll|i swear i'll}"
    };
}
macro_rules! lawyer {
    () => {
        "{lawyer|lawyers|laywer|lawer|attorney|attorneys|attorny|solicitor|solicitors|counsel|legal counsel|legal team|barrister|legal advisor|legal adviser}"
    };
}
macro_rules! boss {
    () => {
        "{manager|supervisor|supervisior|owner|boss|director|management|superior|someone senior|somebody senior|someone in charge|person in charge|someone with authority|someone higher up|higher up|higher ups|head of support|head of customer service|head of customer success|ceo|vp|vice president|team leader|team lead|clinical director|practice manager|practice owner|store manager|branch manager|area manager|general manager|managing director|owner of this practice|owner of the practice|manger|managers}"
    };
}
macro_rules! staff {
    () => {
        "{your|you|ur|the tech|tech|technician|technicians|plumber|engineer|roofer|electrician|installer|fitter|guy|guys|team|staff|worker|workers|contractor|consultant|support engineer|migration|maintenance|update|script|dentist|dr|doctor|hygienist|nurse|orthodontist|surgeon|clinic|since|after|while|when installing|during}"
    };
}

/// Words that turn a body's name into a complaint to it.
const REPORT_WORDS: &[&str] = &[
    "report+",
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
];

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
        "sort out the", "wait time",
    ]),
    // Self-harm signals.
    rule(Threat, 0.85, &[
        "kill myself", "end it all", "end my life", "take my own life", "suicid+", "self harm",
        "hurt myself", "can't do this anymore", "cant do this anymore", "can't go on", "cant go on",
        "no point in anything", "no point living", "no point in living", "no reason to live",
        "want to die", "better off dead", "not worth living",
    ]),
    rule(Threat, 0.85, &[
        "{te|los|les|os} voy a matar", "me las vais a pagar", "me las van a pagar",
        "je vais vous tuer", "je vais le tuer", "casser la gueule",
        "umbringen", "abstechen", "das werden sie bereuen",
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
    ]).blocks(&["is it normal", "normal", "expected", "my fault", "our mistake", "wrong size", "wrong address"]),
    rule(ClinicalDispute, 0.8, &[
        "{cracked|broke|broken|smashed|flooded|ruined|damaged|scratched|dented|deleted|wiped|corrupted|corrupt|destroyed|snapped|fractured|gouged|burst|collapsed|drilled through|drilled straight through|leaking into|lost every|lost three|lost all|infected|injured|cut his|cut her|cut my|hurt my|burned my|burnt my|scalded}",
    ])
    .near(&[staff!()])
    .blocks(&[
        "is it normal", "normal", "expected", "my fault", "my own fault", "our mistake",
        "ourselves", "we accidentally", "i accidentally", "toffee", "careful", "no damage",
        "arrived broken", "arrived", "in the box", "before your", "unrelated", "other practice",
        "another practice", "previous dentist", "football", "boiler works", "parcel", "delivery",
        "not damaged", "still not", "we bulk", "we deleted", "can they be restored",
    ]),
    // ---- manager_request ----
    rule(ManagerRequest, 0.85, &[
        concat!("{speak|talk|speaking|talking|chat} {to|with} {a|the|your|ur|someone|} ", boss!()),
        concat!("{get me|put me through to|transfer me to|connect me to|connect me with|i want|i need|i'd like|i would like|can i have|may i speak to|let me speak to|give me|call back from|callback from|a call from|call from|escalate this to|escalated to|escalate it to|escalate to|pass this to|passed to|forward this to|send this to|send this complaint to|demanded to speak to|asked to speak to|ask for|asked for|asking for|demand|demanded|request|requested|transmitted to|want} {a|the|your|ur|} ", boss!()),
        "{who is|who's|whos} in charge",
        "{someone|somebody|anyone|person} who can {actually |}{make a decision|make decisions|authorise|authorize|do something|fix this|decide}",
        "complaint to the top",
        "escalate this to someone", "escalated to someone", "this to the top",
        "{hablar|habla|hable|pasar|pase} con {el|un|la|una|su|algun|} {supervisor|supervisora|encargado|encargada|gerente|responsable|director|directora|jefe|jefa|dueno|duena}",
        "{parler|m adresser} {au|a un|a une|a votre|avec le|avec un|avec votre|a la|avec la|a} {responsable|superieur|directeur|directrice|manager|gerant|chef|patron}",
        "votre superieur", "{transmis|transmettre|remonter} a un responsable",
        "{mit|ihrem|ihren|dem|einem} {vorgesetzten|chef|geschaftsfuhrer|filialleiter|teamleiter}",
    ]).blocks(&[
        "my manager", "our manager", "my boss", "our boss", "our director", "our supervisor",
        "new supervisor", "account manager", "office manager", "facilities manager",
        "property manager", "partnerships manager", "it manager", "manager role", "hiring",
        "job", "vacancy", "recruit+", "position", "cv", "resume", "compliment+", "praise",
        "great job", "above and beyond", "invite", "conference", "speak at", "stockist",
        "partnership", "sorted it out", "sorted it", "was brilliant",
    ]),
    // ---- public_complaint ----
    rule(PublicComplaint, 0.85, &[
        "{1|one|1 star|zero|0} star", "{bad|negative|terrible|awful|scathing|horrible|honest|nasty} {review|reviews}",
        "{go|going|went|goes|gone} to the {press|media|papers|news|local paper|local news|newspapers}",
        "{contact|contacted|contacting|call|tell|tip off|speak to} the {press|media|newspaper|local paper|papers|news}",
        "journalist", "reporter", "{tell|telling|warn|warning} everyone", "everyone will know",
        "{everyone|people|the world|the public|my followers|followers|everybody} {will|are going to|is going to|need to|needs to|should|are gonna} {hear|know|see}",
        "warn other+", "let everyone know", "my followers", "my subscribers", "followers are going to",
        "video about {this|you|it}", "tag you",
        "going viral", "go viral",
        "{resena|opinion|critica} {muy |}negativa", "redes sociales", "publicar esto",
        "avis negatif", "reseaux sociaux", "mauvais avis",
        "negative bewertung", "schlechte bewertung", "eine bewertung", "an die presse",
    ]).blocks(PRAISE),
    rule(PublicComplaint, 0.8, &[
        "{google|google reviews|yelp|trustpilot|facebook|instagram|insta|tiktok|twitter|nextdoor|reddit|youtube|linkedin|social media|socials|tripadvisor|google maps|blog|forums|forum|local forums|facebook group|neighbourhood facebook group|neighborhood group|mumsnet|the internet}",
    ])
    .near(&[
        "post", "posting", "posted", "put this", "putting", "put all", "write", "writing", "leave",
        "leaving", "left", "share", "sharing", "tell", "telling", "tag", "expose", "warn", "thread",
        "going up", "updating", "recording", "1 star", "one star", "know what", "know how",
        "publish", "going straight", "story", "about this", "about you", "avis", "berichten",
        "schreibe", "publicar", "scam",
    ])
    .blocks(PRAISE),
    // ---- regulator ----
    rule(Regulator, 0.85, &[
        "{bbb|better business bureau|dental board|medical board|state board|licensing board|nursing board|board of dentistry|board of medicine|attorney general|attorney general's office|consumer protection|consumer ombudsman|ombudsman|cfpb|ftc|federal trade commission|ico|information commissioner|data protection authority|data protection authorities|data protection commissioner|cnil|trading standards|gas safe|insurance commissioner|commissioner|ofgem|ofcom|health department|department of health|cqc|care quality commission|gdc|general dental council|gmc|general medical council|licensing authority|watchdog|regulator|the authorities|consumer affairs|fair trading}",
        "{oficina de consumo|consumo|omic|ocu|facua|defensor del consumidor|proteccion de datos|aepd}",
        "{ordre des+|ordre des medecins|ordre des dentistes|dgccrf|cnil|mediateur|defenseur des droits|ars}",
        "{verbraucherzentrale|datenschutzbeauftragte+|datenschutzbehorde|arztekammer|arztekammer|aufsichtsbehorde|bundesnetzagentur|schlichtungsstelle|landesdatenschutz+}",
    ])
    .near(REPORT_WORDS)
    .blocks(&[
        "accredit+", "licensed", "licence number", "license number", "registered",
        "registration number", "work at", "worked at", "used to work", "i work", "member of",
        "certified by", "approved by", "old provider", "previous provider", "their customers",
    ]),
    // ---- billing_dispute ----
    rule(BillingDispute, 0.85, &[
        "{charged|billed|debited|invoiced|charging|charge} {me|us|my card|our card|} {twice|two times|double|2x}",
        "double {charge+|billed|billing|charging}", "duplicate {charge|payment|transaction|debit|invoice}",
        "{came out|taken|went out|deducted|debited} twice", "charged twice",
        "{want|need|demand|expect|request|requesting|like|deserve|waiting for|waiting on|chasing|give me|get|still owed|owed|owe me|promised|where is|where's|wheres|issue|issue a|processing my} {a|my|the|our|full|a full|your|} {refund|reimbursement|money back}",
        "refund {please|pls|plz|me|it|us|the|this|both|one|that|my|the difference|the extra|immediately|asap|them|those|in full}",
        "please refund", "full refund", "partial refund", "refund for {it|this|the|my|a}",
        "{haven't|havent|have not|hasn't|hasnt|not|never} {got|gotten|received|had|seen|come through} {my|the|a|any|our|} {refund|money}",
        "refunded {the wrong|only|half}", "refund the {difference|extra|duplicate|fee|charge|deposit}",
        "{want|need|like|expect|demand|would like} {it|them|both|that|this|the extra seats|the remaining sessions|the fee|the charge|the deposit|the difference|my deposit|} refunded",
        "{want|need|get|give|have} {my|our|the|me my|us our} money back", "money back",
        "{reverse|remove|waive|dispute|disputing|refund|credit|take off|cancel} {the|this|that|these|those|one of the|one of them|both|the extra|the second} {charge+|fee|fees|payment+|invoice|difference|duplicate|amount|seats|charges|debit}",
        "reverse one", "reverse the charge", "take {it|that|this|the charge|the fee} off {my|our|the} {bill|account|invoice|statement|card}",
        "take that off", "could you take it off", "take it off",
        "chargeback", "charge back", "dispute it with", "dispute the charge",
        "overcharg+", "overbill+", "over charged", "i'm owed", "im owed", "i am owed", "still owed",
        "wrong amount", "corrected invoice", "correct the invoice", "fix the invoice",
        "not paying for",
        "credit the difference", "credited to our account", "be credited",
        "refusing to refund", "refuse to refund", "refused to refund",
        "{reembolso|reembolsen|devuelvan|devuelvanme|devolucion|devolverme|devuelva}",
        "{cobraron|cobrado|cobrar} {dos veces|de mas|doble}",
        "{rembours+|debite deux fois|facture deux fois|double facturation|debite mais|jamais recu mais}",
        "{erstattung|ruckerstatung|ruckerstattung|zuruckerstatten|zuruckerstattung|doppelt berechnet|doppelt abgebucht|geld zuruck|gutschrift}",
    ]).blocks(&[
        "policy", "came through", "got my refund", "received the refund", "refund arrived",
        "thanks for crediting", "thank you for crediting", "showed up", "is it possible",
        "how do i", "how long", "when will", "hypothetical+", "if i cancel", "would that be",
        "do you charge", "do you offer", "happy to pay", "never mind", "ignore me", "confirm",
        "reconcil+", "will i be charged", "per message", "not disputing",
    ]),
    rule(BillingDispute, 0.75, &[
        "{charged|billed|charge|charging|invoiced|took} {me|us|} {for|a|an}",
    ])
    .near(&[
        "never", "didn't", "didnt", "did not", "wasn't", "wasnt", "cancel+", "no show", "not received",
        "never received", "never arrived", "never turned", "never used", "only have", "only",
        "covered", "included", "wrong", "mistake", "didn't even", "still", "not",
    ])
    .blocks(&[
        "confirm", "reconcil+", "when will", "will i be", "do you charge", "per message", "how is",
        "what is", "policy", "pending", "go through", "intentional", "happy to pay", "is it",
        "if i", "not disputing", "explain the",
    ]),
    // ---- repeat_contact ----
    rule(RepeatContact, 0.85, &[
        "{second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|nth|umpteenth|tenth} {time|email|emails|message|msg|request|follow up|followup|follow-up|voicemail|call|attempt|letter|chat|ticket|reminder|complaint}",
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
    ]).blocks(&[
        "forgot", "forget", "sorry", "appointment", "visit", "session", "reschedul+", "busy",
        "line was", "one went fine",
    ]).literal(),
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
        "publicly {downloadable|accessible|visible|available}",
        "still has {admin |}access",
        "{huele|olor} a gas", "fuga de {gas|datos}", "hackead+", "hackearon", "brecha de datos",
        "odeur de gaz", "fuite de {gaz|donnees}", "pirate", "etincelles",
        "nach gas", "gasgeruch", "gasleck", "datenleck", "datenpanne", "gehackt", "funken",
        "zugangsdaten wurden",
    ]).blocks(&[
        "process", "policy", "procedure", "what do you do", "if there's ever", "if there is ever",
        "plan", "incident response", "of contract", "sla", "just the battery",
        "it was me", "legit", "how do we", "change my password", "to be safe",
        "breaches in", "sla breach+",
    ]),
    rule(SafetyRisk, 0.85, &["{api|secret|private|access|production api|production} {key|keys|token|tokens}"])
        .near(&["exposed", "leaked", "public", "publicly", "pasted", "published", "visible", "posted", "shared", "rotate", "saw it"]),
    rule(SafetyRisk, 0.85, &[
        "{electrics|fuse box|fusebox|light fitting|consumer unit|socket|sockets|plug socket|wiring|switchboard|breaker box}",
    ])
    .near(&["water", "leak+", "drip+", "pour+", "wet", "flood+", "running into", "spark+"]),
];

/// Expands the `{a|b}` groups of a phrase into every concrete phrase.
pub(crate) fn expand(phrase: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut rest = phrase;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let literal = &rest[..open];
        let alternatives: Vec<&str> = rest[open + 1..close].split('|').collect();
        out = out
            .iter()
            .flat_map(|prefix| {
                alternatives
                    .iter()
                    .map(move |alt| format!("{prefix}{literal}{alt}"))
            })
            .collect();
        rest = rest.get(close + 1..).unwrap_or("");
    }
    for s in &mut out {
        s.push_str(rest);
    }
    out
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
