//! Phone numbers reduced to the digits that identify them, whatever way they were typed.

/// Fewest digits of a national number that identify a phone (shorter: not a number).
pub const MIN_PHONE_DIGITS: usize = 6;
/// Most digits looked at (E.164 allows 15).
pub const MAX_PHONE_DIGITS: usize = 15;
/// Trailing digits compared when one side has no country code and both cannot be
/// reduced to a national number the same way.
pub const PHONE_TAIL_DIGITS: usize = 8;

/// Country calling codes of the programme's regions and their neighbours, longest first
/// where one is a prefix of another. A number written with `+` or `00` and one of these
/// loses it; with another code the digits are kept whole (still compared by their tail).
pub const COUNTRY_CODES: &[&str] = &[
    "880", // Bangladesh
    "977", // Nepal
    "855", // Cambodia
    "856", // Laos
    "66",  // Thailand
    "84",  // Viet Nam
    "98",  // Iran
    "93",  // Afghanistan
    "92",  // Pakistan
    "95",  // Myanmar
    "91",  // India
];

/// The digits of `text` (ASCII, Bengali, Thai, Arabic-Indic and Persian digits), and
/// whether it was written in international form (`+` or `00`).
fn digits(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut plus = false;
    for c in text.chars() {
        let d = match c {
            '0'..='9' => Some(c as u32 - '0' as u32),
            '\u{09E6}'..='\u{09EF}' => Some(c as u32 - 0x09E6),
            '\u{0E50}'..='\u{0E59}' => Some(c as u32 - 0x0E50),
            '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
            '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
            '+' if out.is_empty() => {
                plus = true;
                None
            }
            _ => None,
        };
        if let Some(d) = d {
            if out.len() >= MAX_PHONE_DIGITS + 2 {
                break;
            }
            out.push(char::from(b'0' + d as u8));
        }
    }
    if !plus {
        if let Some(rest) = out.strip_prefix("00") {
            return (rest.to_owned(), true);
        }
    }
    (out, plus)
}

/// The national significant number of `text`: digits only, a known country code written
/// in international form removed, the national trunk prefix `0` removed. `None` when
/// fewer than [`MIN_PHONE_DIGITS`] remain.
///
/// `+880 1927-491097`, `01927491097` and `০১৯২৭৪৯১০৯৭` are all `1927491097`;
/// `+66 89 559 3489` and `089-559-3489` are `895593489`.
pub fn national_number(text: &str) -> Option<String> {
    let (digits, international) = digits(text);
    let mut n = digits.as_str();
    if international {
        if let Some(cc) = COUNTRY_CODES.iter().find(|cc| n.starts_with(*cc)) {
            n = &n[cc.len()..];
        }
    }
    let n = n.trim_start_matches('0');
    (n.len() >= MIN_PHONE_DIGITS && n.len() <= MAX_PHONE_DIGITS).then(|| n.to_owned())
}

/// Whether two national numbers name the same phone: equal, or (a country code we do
/// not know, a number typed without it) the same last [`PHONE_TAIL_DIGITS`] digits.
pub fn same_phone(a: &str, b: &str) -> bool {
    a == b || (a.len() >= PHONE_TAIL_DIGITS && b.len() >= PHONE_TAIL_DIGITS && tail(a) == tail(b))
}

/// The last [`PHONE_TAIL_DIGITS`] digits (the blocking key of a phone).
pub fn tail(n: &str) -> &str {
    &n[n.len().saturating_sub(PHONE_TAIL_DIGITS)..]
}
