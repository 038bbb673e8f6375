//! Finding phrases in a message and judging the words around them: negated ("I'm not going
//! to sue"), hypothetical ("if this were serious I'd…"), or in the company of words that
//! require or rule out the match (see `phrases.rs`).
//!
//! Matching works on words, not bytes. Every word that any phrase uses is given an id once,
//! when the detector is built (the *lexicon*); a message's tokens are looked up once each,
//! then every phrase — anchors and context words alike — is found by walking a trie of word
//! ids from each token. Compiling the phrases' `{a|b}` alternatives into a byte automaton
//! made tens of thousands of patterns and a DFA far larger than the CPU caches. The trie is
//! large too, but a message only touches its first levels, and a filter of word pairs that
//! occur in phrases lets most tokens skip it altogether. Windows are token ranges, so they
//! need no rescanning of the text.

use std::collections::HashMap;

use super::normalize::{phrase_words, word_hash, Normalized, Token};

/// FxHash (rustc-hash): much faster than SipHash for the many short words and integer keys
/// of building the detector. The keys come from the phrase lists (ours and the tenant's),
/// never from messages, so flooding resistance is not needed.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// No word, no node.
pub(crate) const NONE: u32 = u32::MAX;

/// What a word means to the negation and window rules.
pub(crate) mod flag {
    pub const NEGATOR: u8 = 1;
    pub const SCOPE_END: u8 = 2;
    pub const NOT_ABOUT_MATCH: u8 = 4;
    pub const CONDITIONAL: u8 = 8;
    /// "only", "just", "sure", "doubt" right after a negator: "not only", "no doubt".
    pub const PSEUDO: u8 = 16;
    /// `.` or `,`.
    pub const BREAK: u8 = 32;
    /// `.`
    pub const SENTENCE: u8 = 64;
    /// Set by `Lexicon::look_up`, not on words: the token starts with some stems.
    pub const STEMS: u8 = 128;
    /// Any of the function-word flags.
    pub const FUNCTION: u8 = NEGATOR | SCOPE_END | NOT_ABOUT_MATCH | CONDITIONAL | PSEUDO;
}

/// Every word the phrases use, with its id; words can also be *stems* ("refund+"), which
/// match any token starting with them.
#[derive(Debug, Default)]
pub(crate) struct Lexicon {
    words: FxMap<Box<str>, u32>,
    /// Once frozen: the words of up to eight bytes, by open addressing on the token hash
    /// (see `normalize::word_hash`), so a token is found without hashing it again; empty
    /// slots have id `NONE`. For such a word the hash is its bytes (zero-padded) times an
    /// odd constant, which maps different words to different hashes: a token of up to eight
    /// bytes with a word's hash *is* that word, found in one cache line with no further
    /// compare. The slot carries all a token needs to know about its word.
    table: Vec<Slot>,
    /// Once frozen: the longer words, likewise. Their hashes can collide (and a token can be
    /// crafted to collide), so a token whose hash matches is compared with the word itself
    /// (`long_text`) before it is taken for it.
    long_table: Vec<Slot>,
    /// The text of each long word, by word id (empty for the other ids).
    long_text: Vec<Box<[u8]>>,
    /// Stems by the classes of their first two bytes (see `stem_bucket`), while building.
    stems: Vec<Vec<Stem>>,
    /// Once frozen: the stems of bucket `b` are `stem_list[stem_start[b]..stem_start[b + 1]]`.
    stem_start: Vec<u32>,
    stem_list: Vec<Stem>,
    /// Once frozen: the stems each known word starts with, worked out once, so only words
    /// outside the lexicon are checked against the stems per message.
    word_stems: Vec<(u32, u32)>,
    word_stem_list: Vec<u32>,
    stem_index: FxMap<Box<str>, u32>,
    flags: Vec<u8>,
    /// The id standing for any number (`NUMBER` in a phrase), once a phrase uses it.
    number: Option<u32>,
}

/// A word in the lexicon's table: what looking a token up gives.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    id: u32,
    flags: u8,
    /// How many stems the word starts with, from `word_stem_list[stems_from]`;
    /// `SEE_WORD_STEMS` if they did not fit here.
    stem_count: u8,
    stems_from: u16,
}

const EMPTY: Slot = Slot {
    hash: 0,
    id: NONE,
    flags: 0,
    stem_count: 0,
    stems_from: 0,
};

const SEE_WORD_STEMS: u8 = u8::MAX;

/// In a phrase, this word matches any token made of digits ("refund the 00 charge"
/// matches "refund the $4,800 charge").
pub(crate) const NUMBER: &str = "00";

#[derive(Debug, Clone)]
struct Stem {
    id: u32,
    /// The first eight bytes, zero-padded, compared as one word before the rest.
    head: u64,
    text: Box<[u8]>,
}

impl Stem {
    fn new(id: u32, text: &str) -> Stem {
        Stem {
            id,
            head: head_word(text.as_bytes()),
            text: text.as_bytes().into(),
        }
    }

    /// Whether `token` (with `head_word(token)` = `head`) starts with this stem.
    fn starts(&self, token: &[u8], head: u64) -> bool {
        let n = self.text.len();
        if n > token.len() {
            return false;
        }
        if n <= 8 {
            let mask = if n == 8 {
                u64::MAX
            } else {
                (1u64 << (n * 8)) - 1
            };
            head & mask == self.head
        } else {
            head == self.head && token[8..n] == self.text[8..]
        }
    }
}

/// The first eight bytes of `b`, zero-padded, as a little-endian word.
fn head_word(b: &[u8]) -> u64 {
    let mut buf = [0; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(buf)
}

/// Byte classes for stem buckets: `a`–`z`, then everything else (and "no byte").
const STEM_CLASSES: usize = 27;

fn stem_class(b: Option<u8>) -> usize {
    match b {
        Some(b @ b'a'..=b'z') => usize::from(b - b'a'),
        _ => STEM_CLASSES - 1,
    }
}

fn stem_bucket(b0: Option<u8>, b1: Option<u8>) -> usize {
    stem_class(b0) * STEM_CLASSES + stem_class(b1)
}

impl Lexicon {
    /// The id of an exact word, added if new.
    pub fn word(&mut self, word: &str) -> u32 {
        if word == NUMBER {
            if let Some(id) = self.number {
                return id;
            }
            let id = self.next_id();
            self.number = Some(id);
            return id;
        }
        if let Some(&id) = self.words.get(word) {
            return id;
        }
        let id = self.next_id();
        self.words.insert(word.into(), id);
        id
    }

    /// The id of a stem, added if new.
    pub fn stem(&mut self, stem: &str) -> u32 {
        if let Some(&id) = self.stem_index.get(stem) {
            return id;
        }
        let id = self.next_id();
        self.stem_index.insert(stem.into(), id);
        if self.stems.is_empty() {
            self.stems = vec![Vec::new(); STEM_CLASSES * STEM_CLASSES];
        }
        let b = stem.as_bytes();
        match b.len() {
            0 => {}
            // A one-byte stem matches every token starting with that byte.
            1 => {
                for c1 in 0..STEM_CLASSES {
                    let bucket = stem_class(Some(b[0])) * STEM_CLASSES + c1;
                    self.stems[bucket].push(Stem::new(id, stem));
                }
            }
            _ => {
                let bucket = stem_bucket(Some(b[0]), Some(b[1]));
                self.stems[bucket].push(Stem::new(id, stem));
            }
        }
        id
    }

    fn next_id(&mut self) -> u32 {
        self.flags.push(0);
        u32::try_from(self.flags.len() - 1).expect("fewer than 2^32 words")
    }

    /// Marks a word (added if new) with a flag.
    pub fn flag(&mut self, word: &str, f: u8) {
        let id = self.word(word);
        self.flags[id as usize] |= f;
    }

    /// Builds the lookup tables; words added after this are not found.
    pub fn freeze(&mut self) {
        self.stem_start = Vec::with_capacity(self.stems.len() + 1);
        self.stem_list.clear();
        for bucket in &self.stems {
            self.stem_start.push(self.stem_list.len() as u32);
            self.stem_list.extend(bucket.iter().cloned());
        }
        self.stem_start.push(self.stem_list.len() as u32);
        self.stems = Vec::new();
        self.word_stems = vec![(0, 0); self.flags.len()];
        self.word_stem_list.clear();
        let mut words: Vec<(&Box<str>, &u32)> = self.words.iter().collect();
        words.sort();
        for (word, &id) in words {
            let from = self.word_stem_list.len() as u32;
            let b = word.as_bytes();
            let head = head_word(b);
            let bucket = stem_bucket(b.first().copied(), b.get(1).copied());
            let mut found: Vec<u32> = self
                .stems_in(bucket)
                .iter()
                .filter(|stem| stem.starts(b, head))
                .map(|stem| stem.id)
                .collect();
            if let Some(number) = self.number.filter(|_| b.iter().all(u8::is_ascii_digit)) {
                found.push(number);
            }
            self.word_stem_list.extend(found);
            self.word_stems[id as usize] = (from, self.word_stem_list.len() as u32);
        }
        let mut words: Vec<(&str, u32)> = self.words.iter().map(|(w, &id)| (&**w, id)).collect();
        words.sort();
        let (short, long): (Vec<_>, Vec<_>) = words
            .into_iter()
            .partition(|(word, _)| word.len() <= SHORT_WORD);
        self.table = self.slots(&short);
        self.long_table = self.slots(&long);
        self.long_text = vec![Box::default(); self.flags.len()];
        for (word, id) in long {
            self.long_text[id as usize] = word.as_bytes().into();
        }
    }

    /// An open-addressing table of `words`, twice as many slots as words.
    fn slots(&self, words: &[(&str, u32)]) -> Vec<Slot> {
        let size = (words.len() * 2).next_power_of_two().max(16);
        let mut table = vec![EMPTY; size];
        for &(word, id) in words {
            let hash = word_hash(word.as_bytes());
            let mut at = slot_of(hash, size);
            while table[at].id != NONE {
                at = (at + 1) & (size - 1);
            }
            let (from, to) = self.word_stems[id as usize];
            let (stem_count, stems_from) = match (u8::try_from(to - from), u16::try_from(from)) {
                (Ok(count), Ok(from)) if count != SEE_WORD_STEMS => (count, from),
                _ => (SEE_WORD_STEMS, 0),
            };
            table[at] = Slot {
                hash,
                id,
                flags: self.flags[id as usize],
                stem_count,
                stems_from,
            };
        }
        table
    }

    /// The slot of the word that token `t` of `text` (a normalised text) is, or `EMPTY`.
    #[inline]
    fn find_word(&self, t: &Token, text: &[u8]) -> &Slot {
        if (t.end - t.start) as usize <= SHORT_WORD {
            // Equal hashes are equal words here (see `table`).
            return probe(&self.table, t.hash, |_| true);
        }
        let token = text.get(t.start as usize..t.end as usize);
        probe(&self.long_table, t.hash, |slot| {
            self.long_text.get(slot.id as usize).map(|w| &w[..]) == token
        })
    }

    fn stems_in(&self, bucket: usize) -> &[Stem] {
        match (self.stem_start.get(bucket), self.stem_start.get(bucket + 1)) {
            (Some(&from), Some(&to)) => &self.stem_list[from as usize..to as usize],
            _ => &[],
        }
    }

    /// Looks every token of a message up: its word id, its flags and the stems it starts
    /// with.
    pub fn look_up(&self, n: &Normalized, out: &mut Lookup) {
        let count = n.tokens.len();
        // Written in place rather than pushed: no capacity check per token and array.
        out.ids.clear();
        out.ids.resize(count, NONE);
        out.flags.clear();
        out.flags.resize(count, 0);
        out.stem_start.clear();
        out.stem_start.resize(count + 1, 0);
        out.stems.clear();
        let Lookup {
            ids,
            flags,
            stem_start,
            stems,
        } = out;
        let rows = ids
            .iter_mut()
            .zip(flags.iter_mut())
            .zip(stem_start.iter_mut());
        let text = n.text.as_bytes();
        for (i, (t, ((id, f), start))) in n.tokens.iter().zip(rows).enumerate() {
            let slot = self.find_word(t, text);
            *id = slot.id;
            *f = slot.flags;
            *start = stems.len() as u32;
            if slot.id != NONE {
                let (from, to) = match slot.stem_count {
                    0 => continue,
                    SEE_WORD_STEMS => self.word_stems[slot.id as usize],
                    count => {
                        let from = u32::from(slot.stems_from);
                        (from, from + u32::from(count))
                    }
                };
                stems.extend_from_slice(&self.word_stem_list[from as usize..to as usize]);
                if to > from {
                    *f |= flag::STEMS;
                }
                continue;
            }
            let b = n.token(i).as_bytes();
            if let Some(number) = self.number {
                if b.iter().all(u8::is_ascii_digit) {
                    stems.push(number);
                }
            }
            let candidates = self.stems_in(stem_bucket(b.first().copied(), b.get(1).copied()));
            if !candidates.is_empty() {
                let head = head_word(b);
                for stem in candidates {
                    if stem.starts(b, head) {
                        stems.push(stem.id);
                    }
                }
            }
            if stems.len() as u32 > *start {
                *f |= flag::STEMS;
            }
        }
        stem_start[count] = stems.len() as u32;
    }
}

/// The table slot where a hash starts probing: the hash's high bits, which FxHash mixes
/// best.
fn slot_of(hash: u64, size: usize) -> usize {
    (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (size - 1)
}

/// Words of up to this many bytes are told apart by their hash alone (see `Lexicon::table`).
const SHORT_WORD: usize = 8;

/// The slot in `table` with `hash` for which `is_word` holds, or `EMPTY` once an empty slot
/// ends the probe.
#[inline]
fn probe(table: &[Slot], hash: u64, is_word: impl Fn(&Slot) -> bool) -> &Slot {
    let size = table.len();
    if size == 0 {
        return &EMPTY;
    }
    let mut at = slot_of(hash, size);
    loop {
        let slot = &table[at];
        if slot.id == NONE || (slot.hash == hash && is_word(slot)) {
            return slot;
        }
        at = (at + 1) & (size - 1);
    }
}

/// The lexicon's view of one message, token by token.
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    pub ids: Vec<u32>,
    pub flags: Vec<u8>,
    /// Stems of token `i` are `stems[stem_start[i]..stem_start[i + 1]]`.
    stem_start: Vec<u32>,
    stems: Vec<u32>,
}

impl Lookup {
    /// The stems token `i` starts with (`&[]` past the end).
    #[inline]
    fn stems_of(&self, i: usize) -> &[u32] {
        if self.flags.get(i).is_none_or(|f| f & flag::STEMS == 0) {
            return &[];
        }
        &self.stems[self.stem_start[i] as usize..self.stem_start[i + 1] as usize]
    }
}

/// What a phrase found in the trie stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// An anchor of the rule with this index.
    Rule(u32),
    /// A context term with this id.
    Term(u32),
}

/// Marks a term in `Output::pack`.
const TERM_BIT: u32 = 1 << 31;

impl Output {
    /// In 32 bits, to be kept in a trie node.
    fn pack(self) -> u32 {
        match self {
            Output::Rule(r) if r < TERM_BIT => r,
            Output::Term(t) if t < TERM_BIT => t | TERM_BIT,
            _ => panic!("fewer than 2^31 rules and terms"),
        }
    }

    fn unpack(packed: u32) -> Output {
        if packed & TERM_BIT == 0 {
            Output::Rule(packed)
        } else {
            Output::Term(packed & !TERM_BIT)
        }
    }
}

/// Phrases as paths of word ids.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    /// Children of the root, by word id (`NONE`: no child).
    root: Vec<u32>,
    /// While building: `(node << 32 | word id)` → child node, below the root.
    building: FxMap<u64, u32>,
    /// While building: what ends at each node.
    building_outputs: Vec<Vec<Output>>,
    /// Once frozen: nodes in breadth-first order, so siblings sit together in memory.
    nodes: Vec<Node>,
    /// `(word id, node)`: a node's few children in a row, or — for nodes with many (the
    /// word after "i", "the", "your"…) — a small open-addressing table of its own, so a
    /// lookup touches one or two cache lines near the node's other children.
    edges: Vec<(u32, u32)>,
    outputs: Vec<Output>,
    /// Once frozen: the children of the root by word id, as copies of their nodes (an
    /// empty node for none), so a phrase's first word costs one read.
    roots: Vec<Node>,
    /// A bit per hashed pair of words that follow each other in some phrase: most tokens
    /// start no phrase with the token after them, and this says so without touching the
    /// (large) node arrays.
    pairs: Vec<u64>,
}

/// The pair filter has 2^PAIR_BITS bits (128 KiB).
const PAIR_BITS: u32 = 20;

fn pair_bit(a: u32, b: u32) -> usize {
    ((u64::from(a) << 32 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PAIR_BITS))
        as usize
}

/// Nodes with more children than this get a hashed table of them.
const SCAN_EDGES: usize = 8;

/// Where a word's probe starts in a hashed table of `size` (a power of two) slots.
fn edge_slot(word: u32, size: usize) -> usize {
    (word.wrapping_mul(0x9e37_79b9) >> 16) as usize & (size - 1)
}

/// A frozen node: its children in `edges` and what ends there.
#[derive(Debug, Default, Clone, Copy)]
struct Node {
    edges: u32,
    /// How many children (listed), or the size of their hashed table.
    edge_count: u32,
    /// Where the node's outputs start in `outputs` or, when only one phrase ends here (as
    /// is usual), that output itself (`Output::pack`): one read less.
    outputs: u32,
    output_count: u16,
    hashed: bool,
}

const ROOT: u32 = 0;

impl Trie {
    pub fn new() -> Trie {
        Trie {
            building_outputs: vec![Vec::new()],
            ..Trie::default()
        }
    }

    /// Adds a phrase of word ids with what it stands for (before `freeze`).
    pub fn insert(&mut self, path: &[u32], output: Output) {
        if path.is_empty() {
            return;
        }
        let mut node = ROOT;
        for &word in path {
            let existing = if node == ROOT {
                self.root.get(word as usize).copied().unwrap_or(NONE)
            } else {
                let key = u64::from(node) << 32 | u64::from(word);
                self.building.get(&key).copied().unwrap_or(NONE)
            };
            node = if existing != NONE {
                existing
            } else {
                let new =
                    u32::try_from(self.building_outputs.len()).expect("fewer than 2^32 nodes");
                self.building_outputs.push(Vec::new());
                if node == ROOT {
                    if self.root.len() <= word as usize {
                        self.root.resize(word as usize + 1, NONE);
                    }
                    self.root[word as usize] = new;
                } else {
                    let key = u64::from(node) << 32 | u64::from(word);
                    self.building.insert(key, new);
                }
                new
            };
        }
        let outputs = &mut self.building_outputs[node as usize];
        if !outputs.contains(&output) {
            outputs.push(output);
        }
    }

    /// Lays the nodes out for lookup; no more inserts after this.
    pub fn freeze(&mut self) {
        let count = self.building_outputs.len();
        let mut children: Vec<Vec<(u32, u32)>> = vec![Vec::new(); count];
        for (word, &child) in self.root.iter().enumerate() {
            if child != NONE {
                children[ROOT as usize].push((word as u32, child));
            }
        }
        for (key, child) in self.building.drain() {
            children[(key >> 32) as usize].push((key as u32, child));
        }
        // Breadth-first renumbering from the root.
        let mut order = vec![ROOT];
        let mut new_id = vec![NONE; count];
        new_id[ROOT as usize] = 0;
        let mut at = 0;
        while at < order.len() {
            let old = order[at] as usize;
            children[old].sort_unstable();
            for &(_, child) in &children[old] {
                new_id[child as usize] = order.len() as u32;
                order.push(child);
            }
            at += 1;
        }
        self.nodes = Vec::with_capacity(order.len());
        for &old in &order {
            let old = old as usize;
            let edges = self.edges.len();
            let kids = &children[old];
            let hashed = kids.len() > SCAN_EDGES;
            let edge_count = if hashed {
                let size = (kids.len() * 2).next_power_of_two();
                self.edges.resize(edges + size, (NONE, NONE));
                for &(w, c) in kids {
                    let mut at = edge_slot(w, size);
                    while self.edges[edges + at].0 != NONE {
                        at = (at + 1) & (size - 1);
                    }
                    self.edges[edges + at] = (w, new_id[c as usize]);
                }
                size
            } else {
                self.edges
                    .extend(kids.iter().map(|&(w, c)| (w, new_id[c as usize])));
                kids.len()
            };
            let outputs = match self.building_outputs[old].as_slice() {
                [one] => one.pack(),
                many => {
                    self.outputs.extend_from_slice(many);
                    (self.outputs.len() - many.len()) as u32
                }
            };
            self.nodes.push(Node {
                edges: edges as u32,
                edge_count: edge_count as u32,
                outputs,
                output_count: u16::try_from(self.building_outputs[old].len())
                    .expect("fewer than 2^16 phrases end at one node"),
                hashed,
            });
        }
        for child in self.root.iter_mut().filter(|c| **c != NONE) {
            *child = new_id[*child as usize];
        }
        self.roots = self
            .root
            .iter()
            .map(|&c| self.nodes.get(c as usize).copied().unwrap_or_default())
            .collect();
        // Every (word, next word) along every path.
        self.pairs = vec![0; 1 << (PAIR_BITS - 6)];
        let mut stack: Vec<(u32, u32)> = self
            .root
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != NONE)
            .map(|(w, &c)| (w as u32, c))
            .collect();
        while let Some((word, node)) = stack.pop() {
            let n = self.nodes[node as usize];
            let from = n.edges as usize;
            for &(next, child) in &self.edges[from..from + n.edge_count as usize] {
                if next == NONE {
                    continue;
                }
                let bit = pair_bit(word, next);
                self.pairs[bit / 64] |= 1 << (bit % 64);
                stack.push((next, child));
            }
        }
        self.building_outputs = Vec::new();
    }

    fn may_follow(&self, word: u32, next: u32) -> bool {
        let bit = pair_bit(word, next);
        self.pairs
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Whether some word of token `at` may follow `word` in a phrase.
    fn next_may_follow(&self, lookup: &Lookup, word: u32, at: usize) -> bool {
        if at >= lookup.ids.len() {
            return false;
        }
        let id = lookup.ids[at];
        (id != NONE && self.may_follow(word, id))
            || lookup
                .stems_of(at)
                .iter()
                .any(|&s| self.may_follow(word, s))
    }

    fn child(&self, node: &Node, word: u32) -> u32 {
        let from = node.edges as usize;
        let edges = &self.edges[from..from + node.edge_count as usize];
        if !node.hashed {
            return edges.iter().find(|e| e.0 == word).map_or(NONE, |e| e.1);
        }
        let mask = edges.len() - 1;
        let mut at = edge_slot(word, edges.len());
        loop {
            match edges[at] {
                (w, child) if w == word => return child,
                (NONE, _) => return NONE,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Every phrase in the message, in order of the first token.
    pub fn find(&self, lookup: &Lookup, found: &mut Found) {
        found.anchors.clear();
        found.hits.hits.clear();
        for first in 0..lookup.ids.len() {
            let id = lookup.ids[first];
            if id != NONE {
                self.start(lookup, id, first, found);
            }
            for &stem in lookup.stems_of(first) {
                self.start(lookup, stem, first, found);
            }
        }
        found.hits.index(lookup.ids.len());
    }

    /// Finds the phrases that start with `word` at token `first`.
    #[inline]
    fn start(&self, lookup: &Lookup, word: u32, first: usize, found: &mut Found) {
        let Some(n) = self.roots.get(word as usize) else {
            return;
        };
        // Most first words end no phrase and start none with the next token.
        let ends_here = n.output_count > 0;
        if ends_here || (n.edge_count > 0 && self.next_may_follow(lookup, word, first + 1)) {
            self.reached(lookup, n, word, first, first, found);
        }
    }

    /// Records what ends at node `n` (reached with `word`, token `at`) and goes on from
    /// there, depth first: along the next token's word, then along each of its stems.
    fn reached<'a>(
        &'a self,
        lookup: &Lookup,
        mut n: &'a Node,
        mut word: u32,
        first: usize,
        mut at: usize,
        found: &mut Found,
    ) {
        // A loop rather than a call per word: only tokens with stems branch.
        loop {
            match n.output_count {
                0 => {}
                1 => found.push(Output::unpack(n.outputs), first, at + 1),
                count => {
                    let from = n.outputs as usize;
                    for &o in &self.outputs[from..from + count as usize] {
                        found.push(o, first, at + 1);
                    }
                }
            }
            let next = at + 1;
            if next >= lookup.ids.len() || n.edge_count == 0 {
                return;
            }
            let id = lookup.ids[next];
            let child = if id != NONE && self.may_follow(word, id) {
                self.child(n, id)
            } else {
                NONE
            };
            let stems = lookup.stems_of(next);
            if stems.is_empty() {
                let Some(c) = self.nodes.get(child as usize) else {
                    return;
                };
                (n, word, at) = (c, id, next);
                continue;
            }
            if let Some(c) = self.nodes.get(child as usize) {
                self.reached(lookup, c, id, first, next, found);
            }
            for &stem in stems {
                if self.may_follow(word, stem) {
                    if let Some(c) = self.nodes.get(self.child(n, stem) as usize) {
                        self.reached(lookup, c, stem, first, next, found);
                    }
                }
            }
            return;
        }
    }
}

/// A set of context terms, as a bit set over term ids.
#[derive(Debug, Default, Clone)]
pub(crate) struct TermSet(Vec<u64>);

impl TermSet {
    pub fn is_empty(&self) -> bool {
        // From the end: `insert` leaves the last word non-zero, so a set with terms answers
        // at once (this is asked for every rule that matches).
        self.0.iter().rev().all(|w| *w == 0)
    }

    fn contains(&self, term: u32) -> bool {
        self.0
            .get(term as usize / 64)
            .is_some_and(|w| w & (1 << (term % 64)) != 0)
    }

    fn insert(&mut self, term: u32) {
        let i = term as usize / 64;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] |= 1 << (term % 64);
    }
}

/// Collects context terms (normalised; a trailing `+` makes a prefix term) and gives each
/// distinct one an id.
#[derive(Default)]
pub(crate) struct TermBuilder {
    index: HashMap<(Vec<String>, bool), u32>,
}

impl TermBuilder {
    /// The set of the given raw terms; the terms are added to the trie.
    pub fn set<'a>(
        &mut self,
        raw: impl IntoIterator<Item = &'a str>,
        lexicon: &mut Lexicon,
        trie: &mut Trie,
    ) -> TermSet {
        let mut set = TermSet::default();
        for r in raw {
            let prefix = r.ends_with('+');
            let words = phrase_words(r.trim_end_matches('+'));
            if words.is_empty() {
                continue;
            }
            let next = u32::try_from(self.index.len()).expect("fewer than 2^32 terms");
            let key = (words, prefix);
            if let Some(&id) = self.index.get(&key) {
                set.insert(id);
                continue;
            }
            let path = path_of(&key.0, prefix, lexicon);
            trie.insert(&path, Output::Term(next));
            self.index.insert(key, next);
            set.insert(next);
        }
        set
    }
}

/// The word ids of a phrase; with `prefix`, its last word is a stem.
pub(crate) fn path_of(words: &[String], prefix: bool, lexicon: &mut Lexicon) -> Vec<u32> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if prefix && i + 1 == words.len() {
                lexicon.stem(w)
            } else {
                lexicon.word(w)
            }
        })
        .collect()
}

/// Every phrase found in one message, in order of first token.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// `(rule index, first token, end token)`: the anchors of rules.
    pub anchors: Vec<(u32, u32, u32)>,
    pub hits: Hits,
}

impl Found {
    #[inline]
    fn push(&mut self, output: Output, first: usize, end: usize) {
        let (first, end) = (first as u32, end as u32);
        match output {
            Output::Rule(r) => self.anchors.push((r, first, end)),
            Output::Term(t) => self.hits.hits.push((first, end, t)),
        }
    }
}

/// Context terms found in one message.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// `(first token, end token, term id)`, sorted by first token.
    hits: Vec<(u32, u32, u32)>,
    /// How many hits start before token `t`, for every `t` up to the message's end: where
    /// a window's hits begin, without a binary search for every rule that looks.
    starts: Vec<u32>,
}

impl Hits {
    /// Indexes the hits of a message of `tokens` tokens.
    fn index(&mut self, tokens: usize) {
        self.starts.clear();
        self.starts.resize(tokens + 1, self.hits.len() as u32);
        let mut t = 0;
        for (k, h) in self.hits.iter().enumerate() {
            let upto = (h.0 as usize).min(tokens);
            if t <= upto {
                self.starts[t..=upto].fill(k as u32);
                t = upto + 1;
            }
        }
    }

    /// Whether a term of `set` lies wholly within tokens `from..to`.
    pub fn any_in(&self, from: usize, to: usize, set: &TermSet) -> bool {
        self.any_where(from, to, set, |_| true)
    }

    /// Whether a term of `set` lies wholly within tokens `from..to` and its first token
    /// passes `keep`.
    pub fn any_where(
        &self,
        from: usize,
        to: usize,
        set: &TermSet,
        keep: impl Fn(usize) -> bool,
    ) -> bool {
        let first = match self.starts.get(from) {
            Some(&k) => k as usize,
            None => self.hits.partition_point(|h| (h.0 as usize) < from),
        };
        let to = to as u32;
        self.hits[first..]
            .iter()
            .take_while(|h| h.0 < to)
            .any(|h| h.1 <= to && set.contains(h.2) && keep(h.0 as usize))
    }
}

/// The first token of a window of at most `max` tokens before token `start`.
pub(crate) fn back(flags: &[u8], start: usize, max: usize, stop_at_sentence: bool) -> usize {
    let mut pos = start;
    for j in (0..start).rev().take(max) {
        if stop_at_sentence && flags[j] & flag::SENTENCE != 0 {
            break;
        }
        pos = j;
    }
    pos
}

/// The end (exclusive) of a window of at most `max` tokens from token `end`.
pub(crate) fn forward(flags: &[u8], end: usize, max: usize, stop_at_sentence: bool) -> usize {
    let mut pos = end;
    for (j, f) in flags.iter().enumerate().skip(end).take(max) {
        if stop_at_sentence && f & flag::SENTENCE != 0 {
            break;
        }
        pos = j + 1;
    }
    pos
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "didnt", "doesnt", "wont", "wouldnt", "isnt", "arent", "wasnt",
    "werent", "havent", "hasnt", "hadnt", "shouldnt", "without", "neither", "nor", "nothing",
    "nunca", "jamas", "pas", "jamais", "aucun", "aucune", "nicht", "kein", "keine", "keinen",
    "keiner", "nie", "niemals",
];

/// Words that end the scope of a negation: "I didn't get it fixed so I'll sue".
const SCOPE_ENDS: &[&str] = &[
    "but",
    "so",
    "and",
    "because",
    "since",
    "then",
    "therefore",
    "though",
    "although",
    "however",
    "unless",
    "until",
    "otherwise",
    "pero",
    "mais",
    "aber",
    "y",
    "et",
    "und",
    "sino",
];

/// Between a negator and the match, these mean the negation is about something else:
/// "I still haven't received my refund" disputes, it does not withdraw.
const NOT_ABOUT_MATCH: &[&str] = &[
    "received",
    "recieved",
    "got",
    "gotten",
    "get",
    "had",
    "seen",
    "arrived",
    "yet",
    "heard",
    "come",
    "came",
    "returned",
    "back",
    "processed",
    "credited",
    "refunded",
    "showed",
    "been",
    "even",
    "fixed",
    "resolved",
    "sorted",
];

const CONDITIONALS: &[&str] = &["if", "unless", "si", "wenn", "falls", "or", "else"];

const PSEUDO_NEGATION: &[&str] = &["only", "just", "sure", "doubt"];

/// Gives the function words their flags (normalised like everything else, so "gotten"
/// meets the text's "goten").
pub(crate) fn function_words(lexicon: &mut Lexicon) {
    let groups: [(&[&str], u8); 5] = [
        (NEGATORS, flag::NEGATOR),
        (SCOPE_ENDS, flag::SCOPE_END),
        (NOT_ABOUT_MATCH, flag::NOT_ABOUT_MATCH),
        (CONDITIONALS, flag::CONDITIONAL),
        (PSEUDO_NEGATION, flag::PSEUDO),
    ];
    for (words, f) in groups {
        for w in words {
            for n in phrase_words(w) {
                lexicon.flag(&n, f);
            }
        }
    }
    lexicon.flag(".", flag::BREAK | flag::SENTENCE);
    lexicon.flag(",", flag::BREAK);
}

/// Whether the match starting at token `start` is negated within its clause.
pub(crate) fn negated(flags: &[u8], start: usize) -> bool {
    let mut between_is_other = false;
    for j in (0..start).rev().take(10) {
        let f = flags[j];
        if f & (flag::BREAK | flag::SCOPE_END) != 0 {
            return false;
        }
        if f & flag::NEGATOR != 0 {
            let pseudo = j + 1 < start && flags[j + 1] & flag::PSEUDO != 0;
            if pseudo || between_is_other {
                return false;
            }
            // "If you don't refund me…" is a condition, not a withdrawal.
            let clause_has_condition = (0..j)
                .rev()
                .take(6)
                .map(|k| flags[k])
                .take_while(|f| f & flag::BREAK == 0)
                .any(|f| f & flag::CONDITIONAL != 0);
            return !clause_has_condition;
        }
        if f & flag::NOT_ABOUT_MATCH != 0 {
            between_is_other = true;
        }
    }
    false
}

/// Markers of a hypothetical or counterfactual sentence.
pub(crate) const HYPOTHETICALS: &[&str] = &[
    "hypothetical+",
    "in theory",
    "imagine",
    "if i ever",
    "if ever",
    "if there is ever",
    "if theres ever",
    "if things ever",
    "if i were",
    "if it were",
    "if this were",
    "if that were",
    "if it was ever",
    "were to",
    "would i",
    "who would",
    "what would",
    "would that",
    "was going to",
    "were going to",
    "had thought",
    "thought about",
    "if i had",
    "i would have",
    "id have",
    "would have",
    "what happens if",
    "whether",
    "if i was",
    "asking for a friend",
    "just curious",
    "just asking",
    "what if",
];

/// Words before a match, within its sentence, searched for hypothetical markers.
const HYPOTHETICAL_WINDOW: usize = 24;

/// Whether the sentence holding the match (up to it) is hypothetical.
pub(crate) fn hypothetical(flags: &[u8], hits: &Hits, markers: &TermSet, start: usize) -> bool {
    hits.any_in(
        back(flags, start, HYPOTHETICAL_WINDOW, true),
        start,
        markers,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::normalize::normalize;

    fn flags_of(text: &str) -> (Normalized, Vec<u8>) {
        let mut lexicon = Lexicon::default();
        function_words(&mut lexicon);
        lexicon.freeze();
        let n = normalize(text);
        let mut lookup = Lookup::default();
        lexicon.look_up(&n, &mut lookup);
        (n, lookup.flags)
    }

    fn at(n: &Normalized, word: &str) -> usize {
        (0..n.tokens.len())
            .position(|i| n.token(i) == word)
            .expect("word is in the text")
    }

    #[test]
    fn negation_is_scoped_to_its_clause() {
        let cases = [
            ("I'm not going to sue", "sue", true),
            ("No need to speak to a manager", "speak", true),
            ("I have no intention of taking this to court", "court", true),
            ("You didn't fix it, so I will sue", "sue", false),
            ("You didn't fix it so I will sue", "sue", false),
            ("If you don't refund me I will complain", "refund", false),
            ("I still haven't received my refund", "refund", false),
            ("I still haven't gotten my refund", "refund", false),
            ("Not only that, I want a refund", "refund", false),
        ];
        for (text, word, expected) in cases {
            let (n, flags) = flags_of(text);
            assert_eq!(negated(&flags, at(&n, word)), expected, "{text}");
        }
    }

    #[test]
    fn windows_stop_at_sentences_when_asked() {
        let (n, flags) = flags_of("One two. Red blue green");
        let green = at(&n, "gren");
        assert_eq!(back(&flags, green, 10, true), at(&n, "red"));
        assert_eq!(back(&flags, green, 2, false), at(&n, "red"));
        let two = at(&n, "two") + 1;
        assert_eq!(forward(&flags, two, 10, true), two);
        assert_eq!(forward(&flags, two, 2, false), at(&n, "red") + 1);
    }

    #[test]
    fn hypotheticals_are_recognised() {
        let mut lexicon = Lexicon::default();
        function_words(&mut lexicon);
        let mut trie = Trie::new();
        let markers =
            TermBuilder::default().set(HYPOTHETICALS.iter().copied(), &mut lexicon, &mut trie);
        trie.freeze();
        lexicon.freeze();
        for (text, word, expected) in [
            ("If this were serious I'd call a lawyer", "lawyer", true),
            ("If this isn't fixed I will call a lawyer", "lawyer", false),
            ("I was going to ask for a manager", "manager", true),
        ] {
            let n = normalize(text);
            let mut lookup = Lookup::default();
            lexicon.look_up(&n, &mut lookup);
            let mut found = Found::default();
            trie.find(&lookup, &mut found);
            assert_eq!(
                hypothetical(&lookup.flags, &found.hits, &markers, at(&n, word)),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn stems_match_longer_words_and_exact_words_only_themselves() {
        let mut lexicon = Lexicon::default();
        let mut trie = Trie::new();
        let refund = lexicon.stem("refund");
        let the = lexicon.word("the");
        trie.insert(&[the, refund], Output::Rule(7));
        trie.freeze();
        lexicon.freeze();
        let n = normalize("Refunded the refunding, the REFUNDS");
        let mut lookup = Lookup::default();
        lexicon.look_up(&n, &mut lookup);
        let mut found = Found::default();
        trie.find(&lookup, &mut found);
        let spans: Vec<(u32, u32)> = found.anchors.iter().map(|&(_, s, e)| (s, e)).collect();
        assert_eq!(spans, [(1, 3), (4, 6)]);
    }
}
