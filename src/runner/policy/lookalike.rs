//! Characters that read as something else on the approving human's screen. Where
//! the shell gives characters their meaning — outside quotes, and inside `$( )` or
//! backticks even within double quotes — a look-alike of a quote, semicolon or slash
//! (`ˈ` U+02C8 draws as `'`, `;` U+037E as `;`) or of a letter (the Cyrillic `р` of
//! `рasswd`) makes a command run otherwise than it reads: `echo ˈdone; rm -rf xˈ`
//! looked like one harmless `echo` and deleted `x` (acceptance run). So there only
//! ASCII is accepted. Inside quotes any text is data, but a word mixing Latin letters
//! with look-alike ones (`./dеploy.sh` with a Cyrillic `е`) names another file than
//! the one the human reviewed, and is refused everywhere. A here-document's body is
//! data and is left alone. Pure.

use super::lex::{self, Piece, Script, Token};

/// The first character the shell reads as code that is not ASCII, described with
/// the byte offset of its word, if any. The command is read by the policy's own
/// tokenizer (`lex`), which knows comments, here-strings, `$'…'`, arithmetic and
/// nested substitutions: unquoted literal text, `~user` and parameter names are
/// code; quoted text and a here-document's literal text are data, while the
/// substitutions inside either run and are read again. A command it cannot
/// tokenize is held to ASCII throughout.
pub(super) fn unquoted_non_ascii(command: &str) -> Option<String> {
    match lex::lex(command) {
        Ok(script) => in_script(&script),
        Err(_) => command
            .char_indices()
            .find(|(_, c)| !c.is_ascii())
            .map(|(at, c)| format!("U+{:04X} ({c}) at byte {at}", u32::from(c))),
    }
}

fn in_script(script: &Script) -> Option<String> {
    script.tokens.iter().find_map(|token| match token {
        Token::Word(word) => in_pieces(&word.pieces, true, word.span.start),
        Token::Op(op) => op
            .heredoc
            .as_ref()
            .and_then(|doc| in_pieces(&doc.pieces, false, op.span.start)),
    })
}

/// `pieces` of a word (`code`: its unquoted literals are code) or of a
/// here-document body (only its substitutions are), starting at byte `at`.
fn in_pieces(pieces: &[Piece], code: bool, at: usize) -> Option<String> {
    let describe = |text: &str| {
        text.chars()
            .find(|c| !c.is_ascii())
            .map(|c| format!("U+{:04X} ({c}) in the word at byte {at}", u32::from(c)))
    };
    pieces.iter().find_map(|piece| match piece {
        Piece::Lit {
            text,
            quoted: false,
        } if code => describe(text),
        Piece::Lit { .. } => None,
        Piece::Tilde(text) | Piece::Param { name: text } => describe(text),
        Piece::Dynamic(d) => d.scripts.iter().find_map(in_script),
    })
}

/// Whether `c` belongs to a script whose letters look like Latin ones, or is a
/// Latin look-alike form (IPA and small capitals, fullwidth, letterlike and
/// mathematical alphanumerics).
fn looks_latin(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0250..=0x02AF         // IPA extensions (ɑ, ɡ)
        | 0x0370..=0x03FF       // Greek
        | 0x0400..=0x052F       // Cyrillic
        | 0x0530..=0x058F       // Armenian
        | 0x13A0..=0x13FF       // Cherokee
        | 0x1C80..=0x1C8F       // Cyrillic extended C
        | 0x1D00..=0x1D7F       // phonetic extensions (small capitals)
        | 0x1F00..=0x1FFF       // Greek extended
        | 0x2100..=0x214F       // letterlike symbols (ℯ, K kelvin)
        | 0x2C80..=0x2CFF       // Coptic
        | 0x2DE0..=0x2DFF       // Cyrillic extended A
        | 0xA4D0..=0xA4FF       // Lisu
        | 0xA640..=0xA69F       // Cyrillic extended B
        | 0xAB70..=0xABBF       // Cherokee supplement
        | 0xFF10..=0xFF19       // fullwidth digits
        | 0xFF21..=0xFF3A       // fullwidth capitals
        | 0xFF41..=0xFF5A       // fullwidth small letters
        | 0x1D400..=0x1D7FF     // mathematical alphanumerics
    )
}

/// The first word of `text` (a run of letters and digits) that mixes ASCII letters
/// with letters that look like them, described with its byte offset.
pub fn mixed_script_word(text: &str) -> Option<String> {
    let mut start = None;
    let (mut ascii, mut alike) = (false, None);
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            ascii |= c.is_ascii_alphabetic();
            // Only letters and digits look like them (not ™ or fullwidth `（`).
            if alike.is_none() && looks_latin(c) {
                alike = Some(c);
            }
            continue;
        }
        if let (Some(s), true, Some(c)) = (start, ascii, alike) {
            return Some(format!(
                "the word `{}` at byte {s}, which mixes Latin letters with U+{:04X} ({c}), a look-alike of one",
                &text[s..i],
                u32::from(c)
            ));
        }
        (start, ascii, alike) = (None, false, None);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{mixed_script_word, unquoted_non_ascii};

    #[test]
    fn look_alikes_outside_quotes_are_found() {
        for bad in [
            "echo \u{2c8}backup done; rm -rf important \u{2c8}",
            "cat \u{440}asswd",
            "ls \u{37e} rm x",
            "mv \u{5d0} \u{5d1}",
            "echo \"$(echo \u{2c8}a; rm x\u{2c8})\"",
            "echo \"`echo \u{2c8}x\u{2c8}`\"",
            "cat <<EOF\nd\u{e9}j\u{e0}\nEOF\nrm \u{2c8}x\u{2c8}",
            "cat <<\u{2c8}X\u{2c8}\nbody\n\u{2c8}X\u{2c8}\nrm \u{2c8}x\u{2c8}",
            "cat <<\"E O\"\nbody\nE O\nrm \u{2c8}x\u{2c8}",
            // The reviewer's ways past a hand-written scanner: a here-string, an
            // arithmetic shift, comments, an escaped `$'`, a case pattern's `)`
            // inside `$( )`, a substitution in an unquoted here-document.
            "cat <<< hi\nrm -rf \u{2c8}important\u{2c8}",
            "echo $((1<<2))\nrm \u{2c8}x\u{2c8}",
            "ls # don't\nrm \u{2c8}x\u{2c8} #'",
            "ls # see <<true\nrm \u{2c8}x\u{2c8}\ntrue",
            "echo \\$'\\' \u{2c8}done; rm -rf x\u{2c8} #'",
            "echo \"$(case y in y) echo \u{2c8}a; rm x\u{2c8};; esac)\"",
            "cat <<EOF\n$(echo \u{2c8}a; rm x\u{2c8})\nEOF",
        ] {
            assert!(unquoted_non_ascii(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn text_in_quotes_and_here_documents_is_data() {
        for ok in [
            "git commit -m \"caf\u{e9} \u{2014} \u{4fee}\u{6b63}\"",
            "echo '\u{2c8}quoted\u{2c8}'",
            "printf $'\\'\u{e9}\\''",
            "cat > notes.md <<'EOF'\n# \u{dc}berblick \u{2014} \u{2713}\nEOF\necho done",
            "cat <<-END\n\t\u{e9}t\u{e9}\n\tEND",
            "echo \"$(date) \u{e9}t\u{e9}\"",
            "ls -la && echo ok",
            "wc -w <<< \"na\u{ef}ve\"",
            "git commit -m \"\u{4fee}\u{590d}\u{ff1a}API\u{ff08}v2\u{ff09} Acme\u{2122}\"",
        ] {
            assert_eq!(unquoted_non_ascii(ok), None, "{ok}");
        }
    }

    #[test]
    fn words_mixing_latin_with_look_alikes_are_found() {
        for bad in [
            "sh ./d\u{435}ploy.sh",
            "\u{440}asswd",
            "rm \"imp\u{3bf}rtant\"",
            "x\u{ff41}y",
        ] {
            assert!(mixed_script_word(bad).is_some(), "{bad}");
        }
        for ok in [
            "na\u{ef}ve caf\u{e9}",
            "\u{440}\u{430}\u{441}\u{441}\u{43a}\u{430}\u{437} done",
            "\u{3b1}\u{3b2}\u{3b3} 42",
            "plain ascii_words-and.dots",
            "\u{4fee}\u{590d}\u{ff1a}API\u{ff08}v2\u{ff09} Acme\u{2122} \u{2116}5",
        ] {
            assert_eq!(mixed_script_word(ok), None, "{ok}");
        }
    }
}
