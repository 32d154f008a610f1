//! Character classes for the matching view: characters that render as
//! nothing (zero-width, soft hyphen, bidi controls, variation selectors, tag
//! characters) and letters of other scripts that render like Latin ones
//! (Cyrillic `а`, Greek `Ο`, …), with the Latin letter each one imitates.
//!
//! Pure lookups; [`super::view`] decides where to apply them. The confusable
//! table is the subset of Unicode's confusables (UTS #39) that maps a single
//! Cyrillic, Greek, Armenian, Cherokee or Latin-extension letter onto a single
//! ASCII letter: those are the ones used to hide `ghp_`, `AKIA` or `password`
//! from a scanner while a human still reads them.

/// True for characters that have no visible glyph of their own and may be
/// dropped without changing how a text reads (Unicode's
/// `Default_Ignorable_Code_Point`, minus nothing we care to keep).
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark (bidi)
        | '\u{115F}'..='\u{1160}'   // Hangul fillers
        | '\u{17B4}'..='\u{17B5}'   // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space/non-joiner/joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // zero-width no-break space (BOM)
        | '\u{FFA0}'                // halfwidth Hangul filler
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical formatting controls
        | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement
    )
}

/// The ASCII letter `c` imitates, for letters of other scripts that look
/// like one.
#[rustfmt::skip]
pub(crate) fn confusable(c: char) -> Option<u8> {
    let a = match c {
        // Cyrillic
        'а' => b'a', 'е' => b'e', 'о' => b'o', 'р' => b'p', 'с' => b'c', 'у' => b'y', 'х' => b'x',
        'ѕ' => b's', 'і' => b'i', 'ј' => b'j', 'ԁ' => b'd', 'ԛ' => b'q', 'ԝ' => b'w', 'һ' => b'h',
        'ӏ' => b'l', 'ү' => b'y', 'к' => b'k', 'ԍ' => b'G',
        'А' => b'A', 'В' => b'B', 'Е' => b'E', 'Ѕ' => b'S', 'І' => b'I', 'Ј' => b'J', 'К' => b'K',
        'М' => b'M', 'Н' => b'H', 'О' => b'O', 'Р' => b'P', 'С' => b'C', 'Т' => b'T', 'Х' => b'X',
        'Ү' => b'Y', 'Ӏ' => b'I', 'Ԛ' => b'Q', 'Ԝ' => b'W', 'Ԍ' => b'G', 'Һ' => b'H', 'У' => b'Y',
        // Greek
        'Α' => b'A', 'Β' => b'B', 'Ε' => b'E', 'Ζ' => b'Z', 'Η' => b'H', 'Ι' => b'I', 'Κ' => b'K',
        'Μ' => b'M', 'Ν' => b'N', 'Ο' => b'O', 'Ρ' => b'P', 'Τ' => b'T', 'Υ' => b'Y', 'Χ' => b'X',
        'Ϲ' => b'C', 'Ϳ' => b'J',
        'α' => b'a', 'ο' => b'o', 'ρ' => b'p', 'ν' => b'v', 'ι' => b'i', 'κ' => b'k', 'υ' => b'u',
        'χ' => b'x', 'ϲ' => b'c', 'ϳ' => b'j', 'γ' => b'y', 'ω' => b'w',
        // Armenian
        'օ' => b'o', 'ս' => b'u', 'ո' => b'n', 'հ' => b'h', 'ց' => b'g', 'զ' => b'q',
        'Օ' => b'O', 'Ս' => b'U',
        // Cherokee capitals
        'Ꭺ' => b'A', 'Ᏼ' => b'B', 'Ꮯ' => b'C', 'Ꭼ' => b'E', 'Ꮐ' => b'G', 'Ꮋ' => b'H', 'Ꭻ' => b'J',
        'Ꮶ' => b'K', 'Ꮮ' => b'L', 'Ꮇ' => b'M', 'Ꮲ' => b'P', 'Ꮪ' => b'S', 'Ꭲ' => b'T', 'Ꮩ' => b'V',
        'Ꮃ' => b'W', 'Ꮓ' => b'Z',
        // Latin letters outside ASCII that read as ASCII ones
        'ı' => b'i', 'ȷ' => b'j', 'ɑ' => b'a', 'ɡ' => b'g', 'ɩ' => b'i', 'ǀ' => b'l', 'ʏ' => b'y',
        'ɪ' => b'i', 'ᴄ' => b'c', 'ᴏ' => b'o', 'ᴠ' => b'v', 'ᴡ' => b'w', 'ᴢ' => b'z', 'ꜱ' => b's',
        _ => return None,
    };
    Some(a)
}

/// A letter that belongs to real non-Latin writing (not a look-alike, not a
/// compatibility form of an ASCII letter): a word holding one is text in that
/// script, and its look-alike letters are left as they are.
pub(crate) fn is_foreign_letter(c: char) -> bool {
    if c.is_ascii() || !c.is_alphabetic() || confusable(c).is_some() {
        return false;
    }
    let mut ascii = true;
    unicode_normalization::char::decompose_compatible(c, |d| {
        ascii &= d.is_ascii() || unicode_normalization::char::is_combining_mark(d);
    });
    !ascii
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for c in [
            '\u{200B}',
            '\u{00AD}',
            '\u{202E}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "{:?}", c);
        }
        for c in ['a', ' ', 'é', '日', '\u{00A0}'] {
            assert!(!is_invisible(c), "{c:?}");
        }
        assert_eq!(confusable('а'), Some(b'a'));
        assert_eq!(confusable('Κ'), Some(b'K'));
        assert_eq!(confusable('п'), None);
        assert!(is_foreign_letter('п'));
        assert!(is_foreign_letter('日'));
        assert!(!is_foreign_letter('а'));
        // Fullwidth letters and accented Latin decompose to ASCII letters.
        assert!(!is_foreign_letter('ｇ'));
        assert!(!is_foreign_letter('é'));
        assert!(!is_foreign_letter('7'));
    }
}
