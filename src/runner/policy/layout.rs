//! Whether a command can be read whole on the approving human's screen. The human
//! approves the exact text, so text that pushes the dangerous part out of sight — long
//! runs of blanks that wrap it off the top of the terminal, spaces that do not look like
//! spaces, marks drawn over other characters (`r\u{336}m\u{336}` reads as struck out) —
//! is refused before it is stored (`disguised-text`), and so is right-to-left text,
//! which a terminal may lay out in another order than it runs. Pure.

use unicode_bidi::{BidiClass, bidi_class};
use unicode_normalization::char::is_combining_mark;

use super::{Refusal, rule};

/// Longest run of spaces and tabs inside a line, or at the start of the first line.
/// Aligning a few columns needs fewer; hiding text needs thousands.
pub const MAX_BLANK_RUN: usize = 8;

/// Longest indentation of a line after a newline: a here-document's script nests a few
/// levels deep, and 32 columns still leaves the rest of the line on screen.
pub const MAX_INDENT: usize = 32;

/// Most blank lines in a row.
pub const MAX_BLANK_LINES: usize = 2;

/// Characters that draw nothing, or draw like a space, yet are not the ASCII space:
/// Unicode spaces (NBSP, U+3000 …), blanks that are letters or symbols (U+2800 braille
/// blank, Hangul fillers), and combining marks, which draw over their neighbour.
/// Controls and invisible format characters have their own rule (`control-character`).
fn disguises(c: char) -> bool {
    !c.is_ascii()
        && (c.is_whitespace()
            || is_combining_mark(c)
            || matches!(
                c,
                '\u{2800}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
            ))
}

/// Refuses a command whose layout or characters could hide part of it from the human
/// who approves it.
///
/// # Errors
/// A `disguised-text` [`Refusal`] naming the first problem and its byte offset.
pub fn check(command: &str) -> Result<(), Refusal> {
    if let Some(what) = disguising_character(command) {
        return Err(refuse(format!(
            "the command contains {what}, which could make it look different from what runs on the approving human's screen; use plain ASCII spaces and precomposed letters"
        )));
    }
    if let Some(what) = right_to_left(command) {
        return Err(refuse(format!(
            "the command holds {what}: the approving human's terminal may lay it out right to left and reorder the words around it (`mv` of two Hebrew names shows them swapped), quoted or not; name files and write text in a left-to-right script"
        )));
    }
    if let Some(what) = super::lookalike::unquoted_non_ascii(command) {
        return Err(refuse(format!(
            "the command holds {what} outside quotes, where the shell reads characters as code: a look-alike of a quote, semicolon, slash or letter runs otherwise than it reads on the approving human's screen; write shell syntax and names in ASCII, and other text inside quotes"
        )));
    }
    if let Some(what) = super::lookalike::mixed_script_word(command) {
        return Err(refuse(format!(
            "the command holds {what}: it reads as another name than it is on the approving human's screen; write each name in one script"
        )));
    }
    let mut at = 0;
    let mut blank_lines = 0;
    for (n, text) in command.split('\n').enumerate() {
        let indent = text.len() - text.trim_start_matches([' ', '\t']).len();
        let allowed = if n == 0 { MAX_BLANK_RUN } else { MAX_INDENT };
        if indent > allowed {
            return Err(refuse(format!(
                "line {} starts with {indent} spaces or tabs (at most {allowed}), which could push the rest of it out of the approving human's sight",
                n + 1
            )));
        }
        let body = text.trim_end_matches([' ', '\t']);
        if body.len() < text.len() && body.ends_with('\\') {
            // Invisible on any screen, yet `\` + newline continues the line
            // and `\` + space + newline ends it (red team: the line after a
            // harmless-looking `printf … \` ran as a command of its own).
            return Err(refuse(format!(
                "line {} ends with a backslash and then spaces or tabs, which the approving human cannot see: the shell reads it as an escaped blank, not as a line continuation; remove the blanks",
                n + 1
            )));
        }
        if let Some(offset) = long_run(&text[indent..]) {
            return Err(refuse(format!(
                "it holds more than {MAX_BLANK_RUN} spaces or tabs in a row at byte {}, which could push part of it out of the approving human's sight",
                at + indent + offset
            )));
        }
        blank_lines = if text.trim_matches([' ', '\t']).is_empty() {
            blank_lines + 1
        } else {
            0
        };
        if blank_lines > MAX_BLANK_LINES && n > 0 {
            return Err(refuse(format!(
                "it holds more than {MAX_BLANK_LINES} blank lines in a row (at line {}), which could push part of it out of the approving human's sight",
                n + 1
            )));
        }
        at += text.len() + 1;
    }
    Ok(())
}

/// The first character of `text` that does not look like what it is, described with
/// its byte offset (`the combining mark U+0336 at byte 3`).
fn disguising_character(text: &str) -> Option<String> {
    let (at, c) = text.char_indices().find(|&(_, c)| disguises(c))?;
    let what = if is_combining_mark(c) {
        "the combining mark"
    } else {
        "the blank-looking character"
    };
    Some(format!("{what} U+{:04X} at byte {at}", u32::from(c)))
}

/// The first strongly right-to-left character of `text` (bidi class R or AL: Hebrew,
/// Arabic, Syriac, Thaana, NKo, their presentation forms …), described with its byte
/// offset. A terminal that applies the Unicode bidirectional algorithm draws a run of
/// them, with the quotes, spaces and digits between them, right to left: `mv "א" "ב"`
/// reads as `mv "ב" "א"`, the arguments swapped. Quotes isolate nothing on screen, so
/// there is no place in a command or a path where such text reads as it runs.
fn right_to_left(text: &str) -> Option<String> {
    let (at, c) = text
        .char_indices()
        .find(|&(_, c)| !c.is_ascii() && matches!(bidi_class(c), BidiClass::R | BidiClass::AL))?;
    Some(format!(
        "the right-to-left letter U+{:04X} at byte {at}",
        u32::from(c)
    ))
}

/// What in a one-line `text` (a workspace path, say) could hide part of it from the
/// human who reads it or reorder it on their screen: a disguising character, a run of
/// more than [`MAX_BLANK_RUN`] blanks or right-to-left text, described; `None` when it
/// reads as it is.
pub fn disguise_in_line(text: &str) -> Option<String> {
    disguising_character(text)
        .or_else(|| {
            long_run(text)
                .map(|at| format!("more than {MAX_BLANK_RUN} spaces or tabs in a row at byte {at}"))
        })
        .or_else(|| {
            right_to_left(text).map(|what| {
                format!("{what}, which the terminal may lay out right to left, reordering the path around it")
            })
        })
        .or_else(|| super::lookalike::mixed_script_word(text))
}

/// The byte offset of the first run of more than [`MAX_BLANK_RUN`] spaces and tabs.
fn long_run(text: &str) -> Option<usize> {
    let mut start = 0;
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b' ' || b == b'\t' {
            if run == 0 {
                start = i;
            }
            run += 1;
            if run > MAX_BLANK_RUN {
                return Some(start);
            }
        } else {
            run = 0;
        }
    }
    None
}

/// How long `command` is (`N characters on M lines`), shown right before a human is
/// asked to approve it: a command that wraps over more lines than the screen has scrolls
/// its head out of sight, and this says so.
pub fn describe_size(command: &str) -> String {
    let chars = command.chars().count();
    let lines = command.split('\n').count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{chars} character{} on {lines} line{}",
        plural(chars),
        plural(lines)
    )
}

fn refuse(detail: String) -> Refusal {
    Refusal::new(rule::DISGUISED_TEXT, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(command: &str) -> bool {
        check(command).is_err_and(|r| r.rule == rule::DISGUISED_TEXT)
    }

    #[test]
    fn a_backslash_before_invisible_blanks_is_refused() {
        assert!(refused("printf '%s\\n' 'note:' \\ \nrm -rf important"));
        assert!(refused("echo a \\\t\nb"));
        assert!(refused("echo a \\ "));
        // A real continuation, and trailing blanks elsewhere, read as they run.
        assert!(!refused("printf '%s\\n' 'note:' \\\nrm -rf important"));
        assert!(!refused("echo a  \necho b "));
    }

    #[test]
    fn padding_and_lookalike_spaces_are_refused() {
        let pad = " ".repeat(6000);
        assert!(refused(&format!("rm -rf src;{pad}echo tests passed")));
        assert!(refused(&format!("rm -rf src;{}echo ok", "\t".repeat(9))));
        assert!(refused(&format!("ls{}x", " ".repeat(MAX_BLANK_RUN + 1))));
        for blank in [
            '\u{00A0}', '\u{1680}', '\u{2000}', '\u{2007}', '\u{200A}', '\u{202F}', '\u{205F}',
            '\u{3000}', '\u{2800}', '\u{3164}', '\u{115F}', '\u{FFA0}',
        ] {
            assert!(
                refused(&format!("echo a{blank}b")),
                "U+{:04X}",
                u32::from(blank)
            );
        }
    }

    #[test]
    fn combining_marks_are_refused() {
        assert!(refused("echo ok; r\u{336}m\u{336} -rf src"));
        assert!(refused("echo e\u{301}"));
        assert!(refused("echo x\u{20DD}"));
        // Precomposed letters and other scripts stay allowed.
        assert!(check("grep -e 'café' -e '日本語' notes").is_ok());
    }

    #[test]
    fn vertical_padding_is_refused() {
        assert!(refused("rm -rf src\n\n\n\necho ok"));
        assert!(refused(&format!("rm -rf src\n{}echo ok", " ".repeat(33))));
        assert!(refused(&format!("{}rm -rf src", " ".repeat(9))));
    }

    #[test]
    fn right_to_left_text_is_refused_quoted_or_not() {
        for bad in [
            "mv \"\u{5d0}\" \"\u{5d1}\"",
            "mv '\u{5e9}\u{5dc}\u{5d5}\u{5dd}' '\u{5e2}\u{5d5}\u{5dc}\u{5dd}'",
            "printf \"%s\" \"\u{627}\u{644}\" 1 2",
            "cat <<'EOF'\n\u{710}\nEOF",
            "echo \u{780}",
            "echo '\u{7ca}'",
            "echo '\u{fb1d}'",
            "echo '\u{fe70}'",
            "echo '\u{10800}'",
        ] {
            let r = check(bad).expect_err(bad);
            assert!(r.detail.contains("right-to-left letter"), "{bad}: {r:?}");
        }
        assert!(
            disguise_in_line("/srv/ws/\u{5d0}/\u{5d1}")
                .is_some_and(|w| w.contains("right-to-left"))
        );
        // Arabic-Indic digits are weak (AN), not letters; they reorder nothing
        // on their own, and other scripts stay allowed.
        assert!(check("echo '\u{660}' 'caf\u{e9}' '\u{65e5}'").is_ok());
    }

    #[test]
    fn size_counts_characters_and_lines() {
        assert!(describe_size("ls").eq("2 characters on 1 line"));
        assert!(describe_size("é\nb").eq("3 characters on 2 lines"));
    }

    #[test]
    fn ordinary_layout_is_accepted() {
        for ok in [
            "cat  a.txt",
            "printf 'a\\tb\\n'",
            &format!("ls{}x", " ".repeat(MAX_BLANK_RUN)),
            "python3 - <<'EOF'\nfor x in range(3):\n    if x:\n        print(x)\n\n\nprint('done')\nEOF",
            &format!("sh <<'EOF'\n{}echo deep\nEOF", " ".repeat(MAX_INDENT)),
            "make\tall",
            "",
        ] {
            assert!(check(ok).is_ok(), "{ok:?}: {:?}", check(ok));
        }
    }
}
