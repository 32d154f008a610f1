//! Invite codes: short, typable, single-use secrets that let a human bring
//! another agent into a conversation without copying a 64-hex token.
//!
//! A code is 16 symbols of Crockford's base-32 alphabet (digits and capital
//! letters without `I`, `L`, `O`, `U`), 80 bits from the OS generator, shown in
//! groups of four: `7KQ2-M9XD-4HTP-0R3C`. Reading is forgiving the way
//! Crockford intends: any case, with or without dashes and spaces, and `O`,
//! `I`, `L` read as the digits they look like. Only a keyed hash of the code is
//! ever stored (see `auth`).

use std::fmt;

use super::InvalidValue;

/// Symbols in a code.
pub const INVITE_SYMBOLS: usize = 16;
/// Random bits in a code (5 per symbol).
pub const INVITE_BITS: usize = INVITE_SYMBOLS * 5;
/// Longest text accepted as an invite code (16 symbols plus separators).
pub const MAX_INVITE_CODE_CHARS: usize = 40;
/// Schema pattern for an invite code as typed: symbols, dashes and spaces.
pub const INVITE_CODE_PATTERN: &str = "^[0-9A-Za-z -]{16,40}$";

/// Draws [`InviteCode::random_where`] makes before it settles.
const MAX_DRAWS: usize = 64;

/// Crockford's base-32 alphabet: no `I`, `L`, `O` or `U`, so no symbol looks
/// like another.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// An invite code in canonical form (16 upper-case symbols, no separators).
/// Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode([u8; INVITE_SYMBOLS]);

impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteCode(<secret>)")
    }
}

impl InviteCode {
    /// A fresh code with [`INVITE_BITS`] random bits.
    ///
    /// # Errors
    /// When the operating system cannot supply random bytes.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; INVITE_SYMBOLS];
        getrandom::fill(&mut bytes)?;
        // 256 is a multiple of 32, so taking the low five bits keeps every
        // symbol uniform.
        Ok(Self(bytes.map(|b| ALPHABET[usize::from(b & 31)])))
    }

    /// A fresh code for which `wanted` holds (drawn again until it does, at
    /// most [`MAX_DRAWS`] times; the last draw is kept after that, so a
    /// predicate that rarely holds costs time, never a code).
    ///
    /// # Errors
    /// When the operating system cannot supply random bytes.
    pub fn random_where(wanted: impl Fn(&[u8]) -> bool) -> Result<Self, getrandom::Error> {
        let mut code = Self::random()?;
        for _ in 1..MAX_DRAWS {
            if wanted(&code.0) {
                break;
            }
            code = Self::random()?;
        }
        Ok(code)
    }

    /// Reads a code as a human typed it: any case, dashes and spaces anywhere,
    /// `O` for `0` and `I`/`L` for `1`.
    ///
    /// # Errors
    /// When it does not come to 16 symbols of the alphabet (the text is not echoed).
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let bad = || {
            InvalidValue::new(
                "invite_code",
                "must be 16 letters and digits, e.g. 7KQ2-M9XD-4HTP-0R3C",
            )
        };
        if text.len() > MAX_INVITE_CODE_CHARS {
            return Err(bad());
        }
        let mut out = [0u8; INVITE_SYMBOLS];
        let mut n = 0;
        for b in text.bytes() {
            let symbol = match b.to_ascii_uppercase() {
                b'-' | b' ' => continue,
                b'O' => b'0',
                b'I' | b'L' => b'1',
                s if ALPHABET.contains(&s) => s,
                _ => return Err(bad()),
            };
            if n == INVITE_SYMBOLS {
                return Err(bad());
            }
            out[n] = symbol;
            n += 1;
        }
        if n != INVITE_SYMBOLS {
            return Err(bad());
        }
        Ok(Self(out))
    }

    /// The canonical symbols (what is hashed).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code as shown to a human: four groups of four, e.g. `7KQ2-M9XD-4HTP-0R3C`.
    pub fn to_display(&self) -> String {
        self.0
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_read_back_forgivingly() {
        let code = InviteCode::random().unwrap();
        let shown = code.to_display();
        assert_eq!(shown.len(), 19, "{shown}");
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(InviteCode::parse(&shown).unwrap(), code);
        assert_eq!(InviteCode::parse(&shown.to_lowercase()).unwrap(), code);
        assert_eq!(InviteCode::parse(&shown.replace('-', "")).unwrap(), code);
        assert_eq!(InviteCode::parse(&shown.replace('-', " ")).unwrap(), code);
        assert!(!format!("{code:?}").contains(&shown));
    }

    #[test]
    fn look_alike_letters_read_as_digits() {
        let a = InviteCode::parse("0000-1111-2222-3333").unwrap();
        assert_eq!(InviteCode::parse("oooo-iiii-2222-3333").unwrap(), a);
        assert_eq!(InviteCode::parse("OoOo-LlIi-2222-3333").unwrap(), a);
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in [
            "",
            "7KQ2-M9XD-4HTP",
            "7KQ2-M9XD-4HTP-0R3C-1",
            "7KQ2-M9XD-4HTP-0R3U",
            "7KQ2_M9XD_4HTP_0R3C",
            "7KQ2-M9XD-4HTP-0R3é",
            &"-".repeat(41),
        ] {
            assert!(InviteCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_symbol_of_the_alphabet_is_drawn() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.extend(InviteCode::random().unwrap().as_bytes().iter().copied());
        }
        assert_eq!(seen.len(), 32);
        assert!(seen.iter().all(|s| ALPHABET.contains(s)));
    }
}
