//! Turns a message into the one form every pattern is written against, and remembers where
//! each byte of that form came from in the original text.
//!
//! The normalised form is lowercase ASCII words separated by single spaces, with `.` for a
//! sentence break and `,` for a clause break, each its own token. Accents are stripped
//! ("réclamation" → "reclamation"), every run of a repeated letter is squeezed to one letter
//! ("sooo" → "so", "refuuund" → "refund", and also "kill" → "kil": patterns go through the
//! same function, so they meet the text in the same form). Quoted reply text is left out.

/// A message in normalised form, with a map back to byte offsets of the original.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    /// Space-separated tokens; `.` and `,` are break tokens.
    pub text: String,
    /// For each byte of `text`, the start of the original character it came from.
    starts: Vec<u32>,
    /// For each byte of `text`, the end of the last original character folded into it.
    ends: Vec<u32>,
    /// Words of three or more letters written all in capitals, as normalised byte ranges.
    pub caps_words: Vec<(u32, u32)>,
    /// Words with at least one letter (for the caps ratio).
    pub word_count: u32,
    /// Runs such as "!!", "?!", "!!!" — shouted punctuation.
    pub bang_runs: u32,
}

impl Normalized {
    /// The original byte range of the normalised byte range `start..end` (`end > start`).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.starts[start] as usize, self.ends[end - 1] as usize)
    }

    fn push(&mut self, b: u8, start: usize, end: usize) {
        self.text.push(b as char);
        self.starts.push(start as u32);
        self.ends.push(end as u32);
    }

    fn push_char(&mut self, c: char, start: usize, end: usize) {
        let before = self.text.len();
        self.text.push(c);
        for _ in before..self.text.len() {
            self.starts.push(start as u32);
            self.ends.push(end as u32);
        }
    }

    fn last(&self) -> u8 {
        self.text.as_bytes().last().copied().unwrap_or(b' ')
    }

    /// Ends the current token (if any) with a single space.
    fn space(&mut self, at: usize) {
        if self.last() != b' ' {
            self.push(b' ', at, at);
        }
    }

    /// Emits a break token, never two in a row and never at the very start.
    fn brk(&mut self, b: u8, at: usize) {
        if self.text.len() <= 1 {
            return;
        }
        self.space(at);
        let bytes = self.text.as_bytes();
        let n = bytes.len();
        if n >= 2 && (bytes[n - 2] == b'.' || bytes[n - 2] == b',') {
            // A sentence break wins over a clause break at the same place.
            if b == b'.' && bytes[n - 2] == b',' {
                self.text.replace_range(n - 2..n - 1, ".");
            }
            return;
        }
        self.push(b, at, at);
        self.push(b' ', at, at);
    }
}

/// Normalises a whole message, skipping quoted reply text.
pub(crate) fn normalize(original: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(original.len() + 16),
        starts: Vec::with_capacity(original.len() + 16),
        ends: Vec::with_capacity(original.len() + 16),
        ..Normalized::default()
    };
    // A leading space lets every pattern start with one, so the automata only try to match
    // at word starts.
    out.push(b' ', 0, 0);
    let mut offset = 0;
    let mut lines = original.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let start = offset;
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
        if starts_with_ci(trimmed, "on ") {
            if let Some(next) = lines.peek() {
                if is_attribution_tail(next.trim()) {
                    offset += next.len();
                    lines.next();
                    out.brk(b'.', start);
                    continue;
                }
            }
        }
        fold_line(&mut out, line, start);
    }
    let end = original.len();
    out.space(end);
    out
}

/// Normalises a pattern written by a person (built-in or a tenant's extra phrase).
pub(crate) fn normalize_phrase(phrase: &str) -> String {
    let n = normalize(phrase);
    let words: Vec<&str> = n
        .text
        .split(' ')
        .filter(|t| !t.is_empty() && *t != "." && *t != ",")
        .collect();
    words.join(" ")
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
    line.starts_with("-----Original Message-----")
        || line.starts_with("-------- Original Message --------")
        || line.starts_with("---------- Forwarded message")
}

/// Per-word state while folding: used for caps detection and the apostrophe rule.
#[derive(Default)]
struct Word {
    /// Normalised byte where the word starts.
    start: usize,
    letters: u32,
    upper: u32,
    digits: u32,
}

fn fold_line(out: &mut Normalized, line: &str, base: usize) {
    let mut word: Option<Word> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = base + i;
        let end = at + c.len_utf8();
        let next = chars.peek().map(|&(_, n)| n);
        if c.is_ascii_alphanumeric() {
            let w = word.get_or_insert_with(|| Word {
                start: out.text.len(),
                ..Word::default()
            });
            if c.is_ascii_digit() {
                w.digits += 1;
                out.push(c as u8, at, end);
                continue;
            }
            w.letters += 1;
            if c.is_ascii_uppercase() {
                w.upper += 1;
            }
            let lower = c.to_ascii_lowercase() as u8;
            squeeze_push(out, lower, w.start, at, end);
            continue;
        }
        if !c.is_ascii() && c.is_alphabetic() {
            let w = word.get_or_insert_with(|| Word {
                start: out.text.len(),
                ..Word::default()
            });
            w.letters += 1;
            if c.is_uppercase() {
                w.upper += 1;
            }
            fold_non_ascii(out, c, w.start, at, end);
            continue;
        }
        let in_word = word.is_some();
        match c {
            '\'' | '’' | '‘' | '`' if in_word && next.is_some_and(char::is_alphabetic) => {
                // "don't" → "dont", "I'm" → "im"; but French elision splits: "l'avocat".
                let w = word.as_ref().map_or(0, |w| w.start);
                let so_far = &out.text.as_bytes()[w..];
                let elision = (so_far.len() == 1 && so_far[0] != b'i') || so_far == b"qu";
                if elision {
                    finish_word(out, word.take());
                    out.space(at);
                }
            }
            '*' if in_word && out.text.len() - word.as_ref().map_or(0, |w| w.start) <= 4 => {
                // Censored profanity ("f***ing", "sh*t") stays one word.
                let w = word.as_ref().map_or(0, |w| w.start);
                squeeze_push(out, b'*', w, at, end);
            }
            _ => {
                finish_word(out, word.take());
                match c {
                    '!' | '?' => {
                        if matches!(next, Some('!' | '?')) && !prev_is_bang(line, i) {
                            out.bang_runs += u32::from(c == '!' || next == Some('!'));
                        }
                        out.brk(b'.', at);
                    }
                    '.' | '…' => {
                        if next.is_none_or(char::is_whitespace) {
                            out.brk(b'.', at);
                        } else {
                            out.space(at);
                        }
                    }
                    ';' | ':' | '\n' | '\r' => out.brk(b'.', at),
                    ',' | '(' | ')' | '—' | '–' => out.brk(b',', at),
                    _ => out.space(at),
                }
            }
        }
    }
    finish_word(out, word);
    out.brk(b'.', base + line.len());
}

fn prev_is_bang(line: &str, i: usize) -> bool {
    i > 0 && matches!(line.as_bytes()[i - 1], b'!' | b'?')
}

/// Pushes a letter unless it repeats the previous letter of the same word.
fn squeeze_push(out: &mut Normalized, b: u8, word_start: usize, at: usize, end: usize) {
    let len = out.text.len();
    if len > word_start && out.last() == b && !b.is_ascii_digit() {
        out.ends[len - 1] = end as u32;
        return;
    }
    out.push(b, at, end);
}

fn fold_non_ascii(out: &mut Normalized, c: char, word_start: usize, at: usize, end: usize) {
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
            out.push_char(lower, at, end);
            pushed = true;
        }
    }
}

fn finish_word(out: &mut Normalized, word: Option<Word>) {
    let Some(w) = word else { return };
    let end = out.text.len();
    if w.letters > 0 {
        out.word_count += 1;
    }
    if w.letters >= 3 && w.upper == w.letters && w.digits == 0 && end > w.start {
        out.caps_words.push((w.start as u32, end as u32));
    }
    out.space(end_original(out));
}

fn end_original(out: &Normalized) -> usize {
    out.ends.last().copied().unwrap_or(0) as usize
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
            ("Dr. Patel charged $4.80", "dr . patel charged 4 80 . "),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).text, format!(" {expected}"), "{input}");
        }
    }

    #[test]
    fn maps_normalised_spans_back_to_the_original_words() {
        let text = "Je vais voir mon AVOCAAAT demain";
        let n = normalize(text);
        let at = n.text.find("avocat").expect("word is there");
        let (s, e) = n.original_span(at, at + "avocat".len());
        assert_eq!(&text[s..e], "AVOCAAAT");
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
    fn counts_shouting() {
        let n = normalize("This is ABSOLUTELY RIDICULOUS!!! Ok?! URL");
        assert_eq!(n.caps_words.len(), 3);
        assert_eq!(n.bang_runs, 2);
    }
}
