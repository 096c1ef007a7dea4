//! Names and villages made comparable: one folded form per script, a Latin transliteration
//! key and a consonant skeleton that agree across scripts.

use unicode_normalization::UnicodeNormalization;

/// Characters of a name (or village) looked at; the rest is ignored. The case model
/// already caps short texts at 200 characters; this bounds the work for any caller.
pub const MAX_NAME_CHARS: usize = 200;
/// Words of a name looked at (the rest is ignored).
pub const MAX_NAME_WORDS: usize = 8;

/// The writing system of a word, by its first letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Latin (English, Vietnamese, transliterations).
    Latin,
    /// Bengali.
    Bengali,
    /// Thai.
    Thai,
    /// Arabic script (Persian, Arabic, Urdu).
    Arabic,
    /// Anything else (digits, other scripts).
    Other,
}

fn script_of(c: char) -> Script {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => Script::Latin,
        '\u{0980}'..='\u{09FF}' => Script::Bengali,
        '\u{0E00}'..='\u{0E7F}' => Script::Thai,
        '\u{0600}'..='\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{FB50}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}' => Script::Arabic,
        _ => Script::Other,
    }
}

/// One word of a name in its three comparable forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Folded in its own script (NFKC, lower case, Latin diacritics removed, Arabic-script
    /// letter variants unified, joiners and tatweel removed).
    pub native: String,
    /// ASCII transliteration (`any_ascii`, Thai reordered first), letters only.
    pub latin: String,
    /// Consonant skeleton of `latin`: sound classes, vowels and h/w/y dropped, repeats
    /// collapsed. Thai "จันทร์เพ็ญ" and Latin "Chanphen" are both `cnpn`.
    pub skeleton: String,
    /// Script of the word.
    pub script: Script,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || c.is_control()
        || matches!(
            c,
            '\u{060C}' | '\u{061B}' | '\u{06D4}' | '\u{0964}' | '\u{0965}' | '\u{2010}'
                ..='\u{2027}'
        )
}

/// Folds one character (already NFKC) into `out`: lower case, Latin diacritics removed,
/// Arabic-script variants unified, invisible joiners, tatweel and marks removed.
fn fold_char(c: char, out: &mut String) {
    match c {
        // Zero-width non-joiner / joiner / space, word joiner, BOM; Arabic tatweel.
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{0640}' => {}
        // Arabic harakat, superscript alef; Bengali nukta (য় and য + ় alike).
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{09BC}' => {}
        // Arabic yeh, alef maksura, farsi yeh with hamza → Persian yeh.
        '\u{064A}' | '\u{0649}' | '\u{06D0}' => out.push('\u{06CC}'),
        // Arabic kaf → keheh (Persian kaf).
        '\u{0643}' => out.push('\u{06A9}'),
        // Teh marbuta, heh with yeh above, heh goal → heh.
        '\u{0629}' | '\u{06C0}' | '\u{06C1}' => out.push('\u{0647}'),
        // Alef with madda / hamza above / below, alef wasla → alef.
        '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' => out.push('\u{0627}'),
        // Waw with hamza → waw; yeh with hamza → yeh.
        '\u{0624}' => out.push('\u{0648}'),
        '\u{0626}' => out.push('\u{06CC}'),
        // Letters with no decomposition.
        'đ' | 'Đ' | 'ð' => out.push('d'),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        'ß' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        c if script_of(c) == Script::Latin && !c.is_ascii() => {
            // Vietnamese and other Latin diacritics: decompose, drop the combining marks.
            for d in c.nfd().filter(|d| !('\u{0300}'..='\u{036F}').contains(d)) {
                out.extend(d.to_lowercase());
            }
        }
        c => out.extend(c.to_lowercase()),
    }
}

/// The folded words of `text` (see [`Word::native`]), at most [`MAX_NAME_WORDS`].
pub fn fold_words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().take(MAX_NAME_CHARS).nfkc() {
        if is_separator(c) {
            folded.push(' ');
        } else {
            fold_char(c, &mut folded);
        }
    }
    folded
        .split_whitespace()
        .take(MAX_NAME_WORDS)
        .map(str::to_owned)
        .collect()
}

fn is_thai_consonant(c: char) -> bool {
    ('\u{0E01}'..='\u{0E2E}').contains(&c)
}

fn is_thai_leading_vowel(c: char) -> bool {
    ('\u{0E40}'..='\u{0E44}').contains(&c)
}

fn is_thai_vowel_sign(c: char) -> bool {
    ('\u{0E30}'..='\u{0E39}').contains(&c) || c == '\u{0E47}' || is_thai_leading_vowel(c)
}

fn is_thai_tone(c: char) -> bool {
    ('\u{0E48}'..='\u{0E4B}').contains(&c)
}

/// The sound a Thai consonant has at the end of a syllable (as the Royal Thai General
/// System writes it): ญ ณ ร ล ฬ → n, ข ค ฆ → k, the dentals and sibilants → t, the labials → p.
fn thai_final(c: char) -> char {
    match c {
        'ญ' | 'ณ' | 'ร' | 'ล' | 'ฬ' => 'น',
        'ข' | 'ค' | 'ฆ' => 'ก',
        'จ' | 'ช' | 'ซ' | 'ฌ' | 'ฎ' | 'ฏ' | 'ฐ' | 'ฑ' | 'ฒ' | 'ด' | 'ถ' | 'ท' | 'ธ' | 'ศ' | 'ษ'
        | 'ส' => 'ต',
        'บ' | 'พ' | 'ฟ' | 'ภ' => 'ป',
        c => c,
    }
}

/// A Thai word rewritten so that a letter-by-letter transliteration reads it in spoken
/// order: leading vowels (เ แ โ ใ ไ) after their consonant, letters silenced by the
/// thanthakhat (์) removed, syllable-final consonants replaced by their final sound.
/// Heuristics, not a Thai syllabifier: enough for names to meet their RTGS spelling.
fn thai_spoken_order(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_thai_leading_vowel(c) && chars.get(i + 1).is_some_and(|&n| is_thai_consonant(n)) {
            out.push(chars[i + 1]);
            out.push(c);
            i += 2;
            continue;
        }
        if c == '\u{0E4C}' {
            // The thanthakhat silences its consonant (and the vowel sign on it) ...
            while let Some(p) = out.pop() {
                if is_thai_consonant(p) {
                    break;
                }
            }
            // ... and a stray consonant left after a closed syllable (จันทร์ → จัน).
            let n = out.len();
            if n >= 3
                && is_thai_consonant(out[n - 1])
                && is_thai_consonant(out[n - 2])
                && is_thai_vowel_sign(out[n - 3])
            {
                out.pop();
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    // Syllable-final consonants: at the end of the word, or after a vowel sign and before
    // another consonant.
    let n = out.len();
    for j in 0..n {
        if !is_thai_consonant(out[j]) || j == 0 {
            continue;
        }
        let prev = out[..j].iter().rev().find(|&&p| !is_thai_tone(p)).copied();
        let at_end = out[j + 1..].iter().all(|&c| is_thai_tone(c));
        let before_consonant = out.get(j + 1).is_some_and(|&c| is_thai_consonant(c));
        let after_vowel = prev.is_some_and(is_thai_vowel_sign);
        if at_end || (after_vowel && before_consonant) {
            out[j] = thai_final(out[j]);
        }
    }
    out.into_iter().collect()
}

/// Arabic letters as Persian pronounces them (ض ظ ذ as z, ث ص as s, ط as t, ح as h, ع
/// silent), so that "رضا" meets "Reza" rather than an Arabic "Rida".
fn persian_sounds(word: &str) -> String {
    word.chars()
        .filter(|&c| c != 'ع')
        .map(|c| match c {
            'ض' | 'ظ' | 'ذ' => 'ز',
            'ث' | 'ص' => 'س',
            'ط' => 'ت',
            'ح' => 'ه',
            c => c,
        })
        .collect()
}

/// Lower-case ASCII letters of the transliteration of a folded word.
fn latin_key(native: &str, script: Script) -> String {
    let ascii = if script == Script::Thai {
        any_ascii::any_ascii(&thai_spoken_order(native))
    } else if script == Script::Arabic {
        any_ascii::any_ascii(&persian_sounds(native))
    } else {
        any_ascii::any_ascii(native)
    };
    ascii
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Consonant skeleton of a Latin key: digraphs and letters mapped to sound classes
/// (p t k c s m n r), vowels and h, w, y dropped, repeated classes collapsed.
pub fn skeleton(latin: &str) -> String {
    let b = latin.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let pair = b.get(i..i + 2);
        let (class, step) = match pair {
            Some(b"ch") | Some(b"jh") => (Some('c'), 2),
            Some(b"sh") => (Some('s'), 2),
            Some(b"ph") | Some(b"bh") => (Some('p'), 2),
            Some(b"th") | Some(b"dh") => (Some('t'), 2),
            Some(b"kh") | Some(b"gh") => (Some('k'), 2),
            _ => {
                let class = match b[i] {
                    b'b' | b'p' | b'f' | b'v' => Some('p'),
                    b'd' | b't' => Some('t'),
                    b'g' | b'k' | b'q' | b'c' => Some('k'),
                    b'j' => Some('c'),
                    b's' | b'z' | b'x' => Some('s'),
                    b'm' => Some('m'),
                    b'n' => Some('n'),
                    b'l' | b'r' => Some('r'),
                    _ => None,
                };
                (class, 1)
            }
        };
        if let Some(c) = class {
            if !out.ends_with(c) {
                out.push(c);
            }
        }
        i += step;
    }
    out
}

/// The comparable words of a name (or village).
pub fn words(text: &str) -> Vec<Word> {
    fold_words(text)
        .into_iter()
        .map(|native| {
            let script = native.chars().next().map_or(Script::Other, script_of);
            let latin = latin_key(&native, script);
            let skeleton = skeleton(&latin);
            Word {
                native,
                latin,
                skeleton,
                script,
            }
        })
        .collect()
}

/// Words that only say "village" ("บ้าน", "গ্রাম", "ban", "village"), dropped from
/// village names (also as a prefix glued to the name, as Thai writes "บ้านโคกสูง").
const VILLAGE_WORDS: &[&str] = &[
    "หมู่บ้าน",
    "บ้าน",
    "গ্রাম",
    "ban",
    "village",
    "gram",
    "làng",
    "lang",
    "روستای",
    "روستا",
    "ده",
];

/// The comparable words of a village name, without the words that only say "village".
pub fn village_words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for w in fold_words(text) {
        let mut rest = w.as_str();
        if VILLAGE_WORDS.contains(&rest) {
            continue;
        }
        for p in VILLAGE_WORDS {
            if let Some(r) = rest.strip_prefix(p) {
                if r.chars().count() >= 2
                    && script_of(p.chars().next().unwrap_or(' ')) != Script::Latin
                {
                    rest = r;
                    break;
                }
            }
        }
        out.extend(words(rest));
    }
    out
}
