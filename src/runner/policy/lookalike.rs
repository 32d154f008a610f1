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

/// Where a character of the command is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Shell code: top level, `$(…)` (with its open parentheses), or backticks.
    Code {
        paren: bool,
        depth: u32,
    },
    Backtick,
    Double,
}

/// The first character outside quotes that is not ASCII, described with its byte
/// offset, if any.
pub(super) fn unquoted_non_ascii(command: &str) -> Option<String> {
    let bytes = command.as_bytes();
    let mut stack = vec![Ctx::Code {
        paren: false,
        depth: 0,
    }];
    let mut heredocs: Vec<(String, bool)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let top = *stack.last().unwrap_or(&Ctx::Double);
        let code = !matches!(top, Ctx::Double);
        if b >= 0x80 {
            if code {
                // (A skipped escape may have left `i` inside the character.)
                let at = (0..=i).rev().find(|&j| command.is_char_boundary(j));
                let c = at
                    .and_then(|at| command[at..].chars().next())
                    .unwrap_or('\u{fffd}');
                let at = at.unwrap_or(i);
                return Some(format!("U+{:04X} ({c}) at byte {at}", u32::from(c)));
            }
            i += 1;
            continue;
        }
        match (top, b) {
            (_, b'\\') => i += 1,
            (Ctx::Double, b'"') => {
                stack.pop();
            }
            (_, b'$') if bytes.get(i + 1) == Some(&b'(') => {
                stack.push(Ctx::Code {
                    paren: true,
                    depth: 0,
                });
                i += 1;
            }
            (Ctx::Backtick, b'`') => {
                stack.pop();
            }
            (_, b'`') => stack.push(Ctx::Backtick),
            (Ctx::Double, _) => {}
            (_, b'"') => stack.push(Ctx::Double),
            (_, b'\'') => {
                // `$'…'` lets a backslash escape the quote; plain `'…'` does not.
                let ansi = i > 0 && bytes[i - 1] == b'$';
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += if ansi && bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            (Ctx::Code { paren: true, depth }, b'(') => {
                stack.pop();
                stack.push(Ctx::Code {
                    paren: true,
                    depth: depth + 1,
                });
            }
            (Ctx::Code { paren: true, depth }, b')') => {
                stack.pop();
                if depth > 0 {
                    stack.push(Ctx::Code {
                        paren: true,
                        depth: depth - 1,
                    });
                }
            }
            (_, b'<') if bytes.get(i + 1) == Some(&b'<') && bytes.get(i + 2) != Some(&b'<') => {
                let (word, dash, end) = heredoc_word(command, i + 2);
                if !word.is_empty() {
                    heredocs.push((word, dash));
                }
                i = end;
                continue;
            }
            (_, b'\n') if !heredocs.is_empty() => {
                i = skip_bodies(command, i + 1, &mut heredocs);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The delimiter after `<<` at `at` (`-` for tab-stripping, quotes removed), and
/// where its word ends.
fn heredoc_word(command: &str, at: usize) -> (String, bool, usize) {
    let bytes = command.as_bytes();
    let mut i = at;
    let dash = bytes.get(i) == Some(&b'-');
    if dash {
        i += 1;
    }
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    // The word as the shell reads it: quotes removed, blanks kept inside them.
    // It stops at a non-ASCII byte, which the caller then refuses as code (a
    // delimiter it could not match would leave the rest of the command unread).
    let mut word = String::new();
    let mut quote = None;
    while let Some(&b) = bytes.get(i) {
        if b >= 0x80 {
            break;
        }
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => word.push(char::from(b)),
            None if b.is_ascii_whitespace()
                || matches!(b, b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')') =>
            {
                break;
            }
            None if matches!(b, b'\'' | b'"') => quote = Some(b),
            None if b == b'\\' => {}
            None => word.push(char::from(b)),
        }
        i += 1;
    }
    (word, dash, i)
}

/// Past the bodies of `heredocs` (in order), starting at the line at `at`.
fn skip_bodies(command: &str, mut at: usize, heredocs: &mut Vec<(String, bool)>) -> usize {
    for (word, dash) in heredocs.drain(..) {
        loop {
            let end = command[at..].find('\n').map_or(command.len(), |n| at + n);
            let line = &command[at..end];
            let line = if dash {
                line.trim_start_matches('\t')
            } else {
                line
            };
            at = (end + 1).min(command.len());
            if line == word || end == command.len() {
                break;
            }
        }
    }
    at
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
        | 0xFF01..=0xFF5E       // fullwidth ASCII
        | 0x1D400..=0x1D7FF     // mathematical alphanumerics
    )
}

/// The first word of `text` (a run of letters and digits) that mixes ASCII letters
/// with letters that look like them, described with its byte offset.
pub fn mixed_script_word(text: &str) -> Option<String> {
    let mut start = None;
    let (mut ascii, mut alike) = (false, None);
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if c.is_alphanumeric() || (looks_latin(c) && !c.is_whitespace()) {
            start.get_or_insert(i);
            ascii |= c.is_ascii_alphabetic();
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
        ] {
            assert_eq!(mixed_script_word(ok), None, "{ok}");
        }
    }
}
