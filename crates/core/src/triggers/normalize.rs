//! Turns a message into the one form every pattern is written against, and remembers where
//! each byte of that form came from in the original text.
//!
//! The normalised form is lowercase ASCII words separated by single spaces, with `.` for a
//! sentence break and `,` for a clause break, each its own token. Accents are stripped
//! ("réclamation" → "reclamation"), every run of a repeated letter is squeezed to one letter
//! ("sooo" → "so", "refuuund" → "refund", and also "kill" → "kil": patterns go through the
//! same function, so they meet the text in the same form). Quoted reply text is left out.

/// One token of the normalised text (a word, or a `.`/`,` break) and the original bytes it
/// came from. Recorded while folding, so matching and context windows index tokens instead
/// of rescanning the text.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Token {
    /// Byte range in the normalised text.
    pub start: u32,
    pub end: u32,
    /// Byte range in the original text (empty for breaks).
    pub ostart: u32,
    pub oend: u32,
    /// `word_hash` of the token's text, computed when it is closed.
    pub hash: u64,
}

/// FxHash's multiply-rotate step, here over eight bytes of a word at a time.
#[inline]
fn hash_step(h: u64, chunk: u64) -> u64 {
    (h.rotate_left(5) ^ chunk).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// The hash of a normalised word, as `normalize` records it for each token, so the lexicon
/// can look tokens up without hashing them again. Tokens never hold a zero byte, so
/// zero-padding the last eight-byte chunk keeps different words apart.
pub(crate) fn word_hash(word: &[u8]) -> u64 {
    let mut h = 0;
    let mut rest = word;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        h = hash_step(h, u64::from_le_bytes(*chunk));
        rest = tail;
    }
    if !rest.is_empty() {
        h = hash_step(h, load_short(rest));
    }
    h
}

/// Eight bytes of `b` from `i` as a little-endian word, zero-padded past the end.
#[inline]
fn load8(b: &[u8], i: usize) -> u64 {
    match b.get(i..).unwrap_or_default().split_first_chunk::<8>() {
        Some((chunk, _)) => u64::from_le_bytes(*chunk),
        None => load_short(b.get(i..).unwrap_or_default()),
    }
}

/// The bytes of `b` (fewer than eight) as a little-endian word, zero-padded. Overlapping
/// loads put the same byte in the same place, so no loop or `memcpy` is needed.
#[inline]
fn load_short(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(lo) | u64::from(hi) << (8 * (n - 4))
    } else if n > 0 {
        u64::from(b[0])
            | u64::from(b[n / 2]) << (8 * (n / 2))
            | u64::from(b[n - 1]) << (8 * (n - 1))
    } else {
        0
    }
}

// Eight bytes at a time ("SWAR"): a run of letters is found, lowercased and copied in a few
// operations per word instead of a branch per byte.
/// A one in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// The bit that makes an ASCII letter small, in every byte.
const CASE: u64 = 0x2020_2020_2020_2020;

/// The high bit of every byte of `x` that is an ASCII letter.
#[inline]
fn letter_bits(x: u64) -> u64 {
    // Lowercased and without its high bit, no byte can carry into the next one below.
    let y = (x | CASE) & !HIGH;
    let from_a = y + (0x80 - u64::from(b'a')) * ONES;
    let past_z = y + (0x80 - u64::from(b'z') - 1) * ONES;
    from_a & !past_z & !x & HIGH
}

/// The high bit of every zero byte of `x`.
#[inline]
fn zero_bits(x: u64) -> u64 {
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// ASCII letters and digits, by byte: the folding loop's one table lookup.
const LETTER: u8 = 1;
const DIGIT: u8 = 4;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c.is_ascii_digit() {
            DIGIT
        } else {
            0
        };
        b += 1;
    }
    t
};

/// A message in normalised form, with a map back to byte offsets of the original.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    /// Space-separated tokens, each preceded by one space; `.` and `,` are break tokens.
    pub text: String,
    /// The tokens of `text`, in order.
    pub tokens: Vec<Token>,
    /// Tokens (indices) of three or more letters written all in capitals.
    pub caps_words: Vec<u32>,
    /// Words with at least one letter (for the caps ratio).
    pub word_count: u32,
    /// Runs such as "!!", "?!", "!!!" — shouted punctuation.
    pub bang_runs: u32,
}

impl Normalized {
    /// The normalised text of token `i`.
    pub fn token(&self, i: usize) -> &str {
        let t = self.tokens[i];
        self.text
            .get(t.start as usize..t.end as usize)
            .unwrap_or("")
    }

    /// The original byte range of tokens `first..end` (`end > first`).
    pub fn original_span(&self, first: usize, end: usize) -> (usize, usize) {
        (
            self.tokens[first].ostart as usize,
            self.tokens[end - 1].oend as usize,
        )
    }
}

/// The normalised form being built: bytes (ASCII, or whole chars of scripts without a Latin
/// base letter) and tokens, recorded as they are emitted.
struct Fold {
    buf: Vec<u8>,
    tokens: Vec<Token>,
    caps_words: Vec<u32>,
    word_count: u32,
    bang_runs: u32,
    /// Whether the last token is still being written (the last byte is not a space).
    open: bool,
}

impl Fold {
    /// Appends normalised bytes that came from `start..end` of the original, opening a
    /// token if none is open.
    fn push_bytes(&mut self, bytes: &[u8], start: usize, end: usize) {
        for &b in bytes {
            self.push(b, start, end);
        }
    }

    /// Appends one byte (ASCII, or part of a whole char).
    #[inline]
    fn push(&mut self, b: u8, start: usize, end: usize) {
        self.open_token(start);
        self.buf.push(b);
        self.extend(end);
    }

    #[inline]
    fn open_token(&mut self, start: usize) {
        if !self.open {
            let at = self.buf.len() as u32;
            self.tokens.push(Token {
                start: at,
                end: at,
                ostart: start as u32,
                oend: start as u32,
                hash: 0,
            });
            self.open = true;
        }
    }

    /// The open token also covers the original bytes up to `end` (a squeezed letter).
    #[inline]
    fn extend(&mut self, end: usize) {
        if let Some(t) = self.tokens.last_mut() {
            t.oend = end as u32;
        }
    }

    /// Appends the run of ASCII letters at `line[from..]` to the open token, lowercased,
    /// squeezing a letter that repeats the one before it; `last` is the token's last byte so
    /// far (0 at its start). Returns where the run ends and whether it has a small letter.
    #[inline]
    fn push_letters(&mut self, line: &[u8], from: usize, mut last: u8) -> (usize, bool) {
        let mut i = from;
        let mut small = false;
        loop {
            let chunk = load8(line, i);
            let letters = letter_bits(chunk);
            // Letters before the first other byte (the padding past the line is not one).
            let n = ((!letters & HIGH).trailing_zeros() / 8) as usize;
            let run = if n == 8 { u64::MAX } else { (1 << (n * 8)) - 1 };
            // Bit 5 set is a small letter: `<< 2` moves it to the byte's high bit.
            small |= letters & (chunk << 2) & run != 0;
            let mut kept = (chunk | CASE) & run;
            let mut len = n;
            // Squeezed out highest first, so the lower repeats stay where they are.
            let mut repeats = zero_bits(kept ^ (kept << 8 | u64::from(last))) & run;
            while repeats != 0 {
                let top = 63 - repeats.leading_zeros();
                let below = (1 << (top & !7)) - 1;
                kept = kept & below | (kept >> 8) & !below;
                len -= 1;
                repeats ^= 1 << top;
            }
            // All eight bytes, then back to the run: a fixed-size copy is one store.
            let end = self.buf.len() + len;
            self.buf.extend_from_slice(&kept.to_le_bytes());
            self.buf.truncate(end);
            if len > 0 {
                last = (kept >> (8 * (len - 1))) as u8;
            }
            i += n;
            if n < 8 {
                return (i, small);
            }
        }
    }

    fn last(&self) -> u8 {
        self.buf.last().copied().unwrap_or(b' ')
    }

    /// Whether the last token is a title or abbreviation whose full stop does not end the
    /// sentence: "I will be reporting Dr. Moss to the GDC" is one sentence.
    fn ends_with_title(&self) -> bool {
        let Some(t) = self.tokens.last() else {
            return false;
        };
        let word = self
            .buf
            .get(t.start as usize..t.end as usize)
            .unwrap_or_default();
        matches!(
            word,
            b"dr"
                | b"mr"
                | b"mrs"
                | b"ms"
                | b"mx"
                | b"prof"
                | b"st"
                | b"sr"
                | b"jr"
                | b"vs"
                | b"aprox"
                | b"dept"
                | b"tel"
                | b"ref"
                | b"inv"
                | b"fig"
                | b"sra"
                | b"hr"
        )
    }

    /// Ends the current token (if any) with a single space.
    fn space(&mut self) {
        if self.open {
            let len = self.buf.len();
            if let Some(t) = self.tokens.last_mut() {
                t.end = len as u32;
                t.hash = word_hash(self.buf.get(t.start as usize..len).unwrap_or_default());
            }
            self.buf.push(b' ');
            self.open = false;
        }
    }

    /// Emits a break token, never two in a row and never at the very start.
    fn brk(&mut self, b: u8, at: usize) {
        self.space();
        let Some(last) = self.tokens.last_mut() else {
            return;
        };
        let first = last.start as usize;
        match self.buf[first] {
            // A sentence break wins over a clause break at the same place.
            b',' if b == b'.' => {
                self.buf[first] = b'.';
                last.hash = word_hash(b".");
            }
            b'.' | b',' => {}
            _ => {
                // What `push` and `space` would do, in one go: breaks are frequent.
                let len = self.buf.len() as u32;
                self.tokens.push(Token {
                    start: len,
                    end: len + 1,
                    ostart: at as u32,
                    oend: at as u32,
                    hash: hash_step(0, u64::from(b)),
                });
                self.buf.extend_from_slice(&[b, b' ']);
            }
        }
    }
}

/// Normalises a whole message, skipping quoted reply text.
pub(crate) fn normalize(original: &str) -> Normalized {
    let mut n = Normalized::default();
    normalize_into(original, &mut n);
    n
}

/// `normalize`, reusing the buffers of `n` (a previous message's form).
pub(crate) fn normalize_into(original: &str, n: &mut Normalized) {
    let mut buf = std::mem::take(&mut n.text).into_bytes();
    buf.clear();
    buf.reserve(original.len() + 16);
    let mut tokens = std::mem::take(&mut n.tokens);
    tokens.clear();
    tokens.reserve(original.len() / 4 + 8);
    let mut caps_words = std::mem::take(&mut n.caps_words);
    caps_words.clear();
    let mut out = Fold {
        buf,
        tokens,
        caps_words,
        word_count: 0,
        bang_runs: 0,
        open: false,
    };
    // Every token is preceded by one space, the first one too.
    out.buf.push(b' ');
    let mut offset = 0;
    while offset < original.len() {
        let start = offset;
        if !needs_a_look(&original.as_bytes()[start..]) {
            // Most lines: folded up to and with their line break, without finding it first.
            offset += fold_line(&mut out, &original[start..], start);
            continue;
        }
        let line = line_at(original, start);
        offset += line.len();
        let trimmed = line.trim();
        if is_forward_header(trimmed) {
            // Everything below "-----Original Message-----" is someone else's text.
            break;
        }
        if trimmed.starts_with('>') || is_attribution(trimmed) {
            out.brk(b'.', start);
            continue;
        }
        // Mail clients wrap long attributions: "On Tue, 4 Mar 2025, Clinic <a@b>\nwrote:".
        if starts_with_ci(trimmed, "on ") && offset < original.len() {
            let next = line_at(original, offset);
            if is_attribution_tail(next.trim()) {
                offset += next.len();
                out.brk(b'.', start);
                continue;
            }
        }
        fold_line(&mut out, line, start);
    }
    out.space();
    // Only ASCII bytes and whole UTF-8 chars were pushed, so this is always valid; were it
    // not, tokens would read as empty rather than panic.
    n.text = String::from_utf8(out.buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    n.tokens = out.tokens;
    n.caps_words = out.caps_words;
    n.word_count = out.word_count;
    n.bang_runs = out.bang_runs;
}

/// The line of `text` starting at byte `start`, with its line break.
fn line_at(text: &str, start: usize) -> &str {
    let rest = &text[start..];
    rest.find('\n').map_or(rest, |at| &rest[..=at])
}

/// Whether the line starting `rest` might be quoted, an attribution or a forward header,
/// which takes the whole line to tell. Lines that start with a plain word or are blank
/// cannot be.
fn needs_a_look(rest: &[u8]) -> bool {
    // What `str::trim` would skip, short of the line break; other whitespace is not ASCII.
    let indent = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(rest.len());
    match rest.get(indent..) {
        None | Some([] | [b'\n', ..]) => false,
        Some([b'>' | b'-', ..]) => true,
        Some([b, ..]) if !b.is_ascii() => true,
        Some([a, b, b' ', ..]) => matches!(
            [a.to_ascii_lowercase(), b.to_ascii_lowercase()],
            [b'o', b'n'] | [b'l', b'e'] | [b'a', b'm'] | [b'e', b'l']
        ),
        Some(_) => false,
    }
}

/// The normalised words of a pattern written by a person (built-in or a tenant's extra
/// phrase), breaks left out.
pub(crate) fn phrase_words(phrase: &str) -> Vec<String> {
    let n = normalize(phrase);
    (0..n.tokens.len())
        .map(|i| n.token(i))
        .filter(|t| *t != "." && *t != ",")
        .map(str::to_owned)
        .collect()
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.is_char_boundary(s.len() - suffix.len())
        && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// "On … wrote:" and its French, German and Spanish forms.
fn is_attribution(line: &str) -> bool {
    let opens = ["on ", "le ", "am ", "el "]
        .iter()
        .any(|p| starts_with_ci(line, p));
    opens && line.len() < 300 && is_attribution_tail(line)
}

fn is_attribution_tail(line: &str) -> bool {
    ["wrote:", "a écrit :", "a écrit:", "schrieb:", "escribió:"]
        .iter()
        .any(|s| ends_with_ci(line, s))
}

fn is_forward_header(line: &str) -> bool {
    // Most lines fail at the first byte, without comparing whole prefixes.
    line.starts_with('-')
        && (line.starts_with("-----Original Message-----")
            || line.starts_with("-------- Original Message --------")
            || line.starts_with("---------- Forwarded message"))
}

/// Per-word state while folding: used for caps detection and the apostrophe rule.
#[derive(Default)]
struct Word {
    /// Normalised byte where the word starts.
    start: usize,
    letters: u32,
    /// Whether some letter is not a capital.
    small: bool,
    digits: u32,
}

/// Folds `line` (the message from byte `base` on) up to and with its first line break;
/// returns how many bytes that was.
fn fold_line(out: &mut Fold, line: &str, base: usize) -> usize {
    let bytes = line.as_bytes();
    let mut word: Option<Word> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let at = base + i;
        // Runs of ASCII letters, by far the most common, take the short way.
        let class = CLASS[b as usize];
        if class & LETTER != 0 && word.is_none() {
            // A new word of ASCII letters. Most end at a space: the token is written whole.
            let start = out.buf.len();
            // The commonest word of all: fewer than eight letters, none doubled, then a
            // space. Its token, hash and all, comes straight from one eight-byte load.
            let chunk = load8(bytes, i);
            let letters = letter_bits(chunk);
            let n = ((!letters & HIGH).trailing_zeros() / 8) as usize;
            if n < 8 && bytes.get(i + n) == Some(&b' ') {
                let run = (1 << (n * 8)) - 1;
                let lowered = (chunk | CASE) & run;
                if zero_bits(lowered ^ lowered << 8) & run == 0 {
                    out.word_count += 1;
                    if n >= 3 && letters & (chunk << 2) & run == 0 {
                        out.caps_words.push(out.tokens.len() as u32);
                    }
                    out.tokens.push(Token {
                        start: start as u32,
                        end: (start + n) as u32,
                        ostart: at as u32,
                        oend: (at + n) as u32,
                        hash: hash_step(0, lowered),
                    });
                    // The word and its space in one store, then back to their length.
                    out.buf
                        .extend_from_slice(&(lowered | u64::from(b' ') << (8 * n)).to_le_bytes());
                    out.buf.truncate(start + n + 1);
                    i += n + 1;
                    continue;
                }
            }
            let (end, small) = out.push_letters(bytes, i, 0);
            // A word that ends at a space, comma or full stop is done with as the general
            // rules below would.
            let after = bytes.get(end).copied();
            if let Some(sep @ (b' ' | b',' | b'.')) = after {
                out.word_count += 1;
                if end - i >= 3 && !small {
                    out.caps_words.push(out.tokens.len() as u32);
                }
                out.tokens.push(Token {
                    start: start as u32,
                    end: out.buf.len() as u32,
                    ostart: at as u32,
                    oend: (base + end) as u32,
                    hash: word_hash(&out.buf[start..]),
                });
                out.buf.push(b' ');
                if sep == b',' {
                    out.brk(b',', base + end);
                } else if sep == b'.' {
                    let next = (end + 1 < bytes.len()).then(|| char_at(line, end + 1).0);
                    if next.is_none_or(char::is_whitespace) && !out.ends_with_title() {
                        out.brk(b'.', base + end);
                    }
                }
                i = end + 1;
                continue;
            }
            // Otherwise the word goes on, or ends by the general rules below.
            out.tokens.push(Token {
                start: start as u32,
                end: start as u32,
                ostart: at as u32,
                oend: (base + end) as u32,
                hash: 0,
            });
            out.open = true;
            word = Some(Word {
                start,
                letters: (end - i) as u32,
                small,
                digits: 0,
            });
            i = end;
            continue;
        }
        if class & LETTER != 0 {
            let w = word.get_or_insert_with(|| Word {
                start: out.buf.len(),
                ..Word::default()
            });
            out.open_token(at);
            // Within the word, a letter repeating the previous one is squeezed out.
            let last = if out.buf.len() > w.start {
                out.last()
            } else {
                0
            };
            let (end, small) = out.push_letters(bytes, i, last);
            w.letters += (end - i) as u32;
            w.small |= small;
            i = end;
            out.extend(base + i);
            continue;
        }
        if b == b' ' {
            // The commonest separator, without the general punctuation rules.
            i += 1;
            finish_word(out, word.take());
            out.space();
            continue;
        }
        if b == b'\n' {
            // What the general rules below do with it; the line ends here.
            finish_word(out, word.take());
            out.brk(b'.', at);
            return i + 1;
        }
        if class & DIGIT != 0 {
            i += 1;
            let w = word.get_or_insert_with(|| Word {
                start: out.buf.len(),
                ..Word::default()
            });
            w.digits += 1;
            out.push(b, at, at + 1);
            continue;
        }
        let (c, len) = char_at(line, i);
        i += len;
        let end = at + len;
        if !c.is_ascii() && c.is_alphabetic() {
            let w = word.get_or_insert_with(|| Word {
                start: out.buf.len(),
                ..Word::default()
            });
            w.letters += 1;
            if !c.is_uppercase() {
                w.small = true;
            }
            fold_non_ascii(out, c, w.start, at, end);
            continue;
        }
        let next = (i < bytes.len()).then(|| char_at(line, i).0);
        let in_word = word.is_some();
        match c {
            '\'' | '’' | '‘' | '`' if in_word && next.is_some_and(char::is_alphabetic) => {
                // "don't" → "dont", "I'm" → "im"; but French elision splits: "l'avocat".
                let w = word.as_ref().map_or(0, |w| w.start);
                let so_far = &out.buf[w..];
                let elision = (so_far.len() == 1 && so_far[0] != b'i') || so_far == b"qu";
                if elision {
                    finish_word(out, word.take());
                }
            }
            '.' | ','
                if in_word
                    && out.last().is_ascii_digit()
                    && next.is_some_and(|n| n.is_ascii_digit()) =>
            {
                // "4,800" and "4.80" stay one number, so amounts don't break phrases.
            }
            '*' if in_word && out.buf.len() - word.as_ref().map_or(0, |w| w.start) <= 4 => {
                // Censored profanity ("f***ing", "sh*t") stays one word.
                let w = word.as_ref().map_or(0, |w| w.start);
                squeeze_push(out, b'*', w, at, end);
            }
            _ => {
                finish_word(out, word.take());
                match c {
                    '!' | '?' => {
                        if matches!(next, Some('!' | '?')) && !prev_is_bang(line, at - base) {
                            out.bang_runs += u32::from(c == '!' || next == Some('!'));
                        }
                        out.brk(b'.', at);
                    }
                    '.' | '…' => {
                        if next.is_none_or(char::is_whitespace)
                            && !(c == '.' && in_word && out.ends_with_title())
                        {
                            out.brk(b'.', at);
                        } else {
                            out.space();
                        }
                    }
                    ';' | ':' | '\n' | '\r' => out.brk(b'.', at),
                    ',' | '(' | ')' | '—' | '–' => out.brk(b',', at),
                    _ => out.space(),
                }
            }
        }
    }
    finish_word(out, word);
    out.brk(b'.', base + line.len());
    line.len()
}

/// The char starting at byte `i` of `s` (a char boundary) and its length in bytes.
fn char_at(s: &str, i: usize) -> (char, usize) {
    match s.as_bytes()[i] {
        b if b.is_ascii() => (b as char, 1),
        _ => s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .map_or((' ', 1), |c| (c, c.len_utf8())),
    }
}

fn prev_is_bang(line: &str, i: usize) -> bool {
    i > 0 && matches!(line.as_bytes()[i - 1], b'!' | b'?')
}

/// Pushes a letter unless it repeats the previous letter of the same word.
fn squeeze_push(out: &mut Fold, b: u8, word_start: usize, at: usize, end: usize) {
    if out.buf.len() > word_start && out.last() == b && !b.is_ascii_digit() {
        out.extend(end);
        return;
    }
    out.push(b, at, end);
}

fn fold_non_ascii(out: &mut Fold, c: char, word_start: usize, at: usize, end: usize) {
    let special: Option<&str> = match c {
        'ß' | 'ẞ' => Some("ss"),
        'æ' | 'Æ' => Some("ae"),
        'œ' | 'Œ' => Some("oe"),
        'ø' | 'Ø' => Some("o"),
        'ł' | 'Ł' => Some("l"),
        'đ' | 'Đ' => Some("d"),
        _ => None,
    };
    if let Some(s) = special {
        for b in s.bytes() {
            squeeze_push(out, b, word_start, at, end);
        }
        return;
    }
    let mut pushed = false;
    for lower in c.to_lowercase() {
        unicode_normalization::char::decompose_canonical(lower, |d| {
            if d.is_ascii_alphanumeric() {
                squeeze_push(out, d as u8, word_start, at, end);
                pushed = true;
            }
        });
        if !pushed {
            // Scripts without a Latin base letter are kept as they are.
            let mut buf = [0; 4];
            out.push_bytes(lower.encode_utf8(&mut buf).as_bytes(), at, end);
            pushed = true;
        }
    }
}

#[inline]
fn finish_word(out: &mut Fold, word: Option<Word>) {
    let Some(w) = word else { return };
    let end = out.buf.len();
    if w.letters > 0 {
        out.word_count += 1;
    }
    if w.letters >= 3 && !w.small && w.digits == 0 && end > w.start {
        out.caps_words.push(out.tokens.len() as u32 - 1);
    }
    out.space();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_stretching_and_apostrophes() {
        let cases = [
            ("I'm NOT going to SUE!!", "im not going to sue . "),
            ("Sooo happy, thank uuu", "so hapy , thank u . "),
            ("Réclamation à l'avocat", "reclamation a l avocat . "),
            ("Rückerstattung für Straße", "ruckerstatung fur strase . "),
            ("don’t refuuund", "dont refund . "),
            ("What a f***ing joke", "what a f*ing joke . "),
            ("Dr. Patel charged $4.80", "dr patel charged 480 . "),
            ("Report Mrs. Okafor. Now.", "report mrs okafor . now . "),
            (
                "Refund the $4,800 charge, ok",
                "refund the 4800 charge , ok . ",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).text, format!(" {expected}"), "{input}");
        }
    }

    #[test]
    fn maps_normalised_spans_back_to_the_original_words() {
        let text = "Je vais voir mon AVOCAAAT demain";
        let n = normalize(text);
        let at = (0..n.tokens.len())
            .position(|i| n.token(i) == "avocat")
            .expect("word is there");
        let (s, e) = n.original_span(at, at + 1);
        assert_eq!(&text[s..e], "AVOCAAAT");
        let all: Vec<&str> = (0..n.tokens.len()).map(|i| n.token(i)).collect();
        assert_eq!(all, ["je", "vais", "voir", "mon", "avocat", "demain", "."]);
    }

    #[test]
    fn quoted_reply_text_is_left_out() {
        let text = "Thanks, all good.\nOn Tue, 4 Mar 2025 at 10:12, Clinic <a@b.example> wrote:\n> I will sue you\n> bye";
        let n = normalize(text);
        assert!(!n.text.contains("sue"), "{}", n.text);
        assert!(n.text.contains("thanks"));
        let wrapped = "Fine.\nOn Tue, 4 Mar 2025, Clinic <a@b.example>\nwrote:\nlawyer";
        assert!(!normalize(wrapped).text.contains("wrote"));
    }

    #[test]
    fn eight_byte_helpers_agree_with_bytes() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let x = u64::from(b) << (8 * at);
                let letter = letter_bits(x) & (0x80 << (8 * at)) != 0;
                assert_eq!(letter, b.is_ascii_alphabetic(), "{b} at {at}");
                assert_eq!(
                    zero_bits(x) & (0x80 << (8 * at)) != 0,
                    b == 0,
                    "{b} at {at}"
                );
            }
        }
        let word = b"abcdefghijklmnopq";
        for n in 0..word.len() {
            let expected = word[..n.min(8)]
                .iter()
                .rev()
                .fold(0, |w, &b| w << 8 | u64::from(b));
            assert_eq!(load8(&word[..n], 0), expected, "{n}");
        }
    }

    #[test]
    fn long_words_fold_across_eight_byte_steps() {
        let cases = [
            ("ABSOLUTELYYYY RIDICULOUS", "absolutely ridiculous . "),
            ("Reeeeeeeeeeeeefund Réfuuuuund", "refund refund . "),
            ("aaaaaaaaaaaaaaaaaaab", "ab . "),
            ("counterproductiveness", "counterproductivenes . "),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).text, format!(" {expected}"), "{input}");
        }
        assert_eq!(
            normalize("ABSOLUTELYYYY RIDICULOUS Really").caps_words,
            [0, 1]
        );
    }

    #[test]
    fn counts_shouting() {
        let n = normalize("This is ABSOLUTELY RIDICULOUS!!! Ok?! URL");
        assert_eq!(n.caps_words.len(), 3);
        assert_eq!(n.bang_runs, 2);
    }

    proptest::proptest! {
        /// The lexicon takes a token of up to eight bytes for the word with its hash without
        /// comparing bytes, so every token must carry exactly the hash of its own text.
        #[test]
        fn every_token_carries_the_hash_of_its_text(
            text in "\\PC{0,200}|([a-zA-Z0-9éÀ']{1,20}[ ,.!?\n]{1,2}){0,30}"
        ) {
            let n = normalize(&text);
            for i in 0..n.tokens.len() {
                proptest::prop_assert_eq!(n.tokens[i].hash, word_hash(n.token(i).as_bytes()), "{:?}", n.token(i));
            }
        }
    }
}
