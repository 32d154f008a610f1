//! A secret handed to a command through process substitution instead of a
//! file: `wg set wg0 peer … preshared-key <(echo X)`, `wg set wg0
//! private-key <(printf '%s' X)`, `--password-file <(echo -n X)`. The
//! word before `<(` names the slot (a trailing `file`, `path` or `fd` is
//! dropped, since the substitution stands for the file); the value echoed
//! is judged as that name's literal.

use super::names::{classify, split_words};
use super::scan::{Scan, priority};

/// Longest name read back from the anchor.
const MAX_NAME: usize = 64;

/// At `<(echo ` / `<(printf ` (`start..end`): the value echoed, when the
/// word before names a secret.
pub(crate) fn on_anchor(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let Some(name) = name_before(bytes, start) else {
        return;
    };
    let mut words = Vec::new();
    split_words(name, &mut words);
    while words
        .last()
        .is_some_and(|w| matches!(w.as_str(), "file" | "path" | "fd"))
    {
        words.pop();
    }
    if words.is_empty() {
        return;
    }
    let n = words.len();
    let Some(class) = classify(&words, n) else {
        return;
    };
    let Some((vs, ve, quoted)) = echoed(bytes, end) else {
        return;
    };
    if super::value::is_secret_value(&bytes[vs..ve], class.strictness, quoted) {
        scan.push(vs, ve, class.kind, priority::ASSIGN);
    }
}

/// The word just before `<(` (one or more blanks between), without leading
/// dashes: `preshared-key`, `--password-file`.
fn name_before(bytes: &[u8], start: usize) -> Option<&[u8]> {
    let mut e = start;
    while e > 0 && matches!(bytes[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    if e == start {
        return None;
    }
    let mut s = e;
    while s > 0
        && e - s < MAX_NAME
        && (bytes[s - 1].is_ascii_alphanumeric() || matches!(bytes[s - 1], b'-' | b'_' | b'.'))
    {
        s -= 1;
    }
    while s < e && bytes[s] == b'-' {
        s += 1;
    }
    (s < e && bytes[s].is_ascii_alphabetic()).then_some(&bytes[s..e])
}

/// The argument echoed after `end`: options (`-n`, `-e`) and a `printf`
/// format (`'%s'`, `"%s\n"`, `%s`) skipped, then one quoted or bare word
/// closed by `)` (blanks allowed before it).
fn echoed(bytes: &[u8], end: usize) -> Option<(usize, usize, bool)> {
    let mut i = end;
    loop {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let we = word_end(bytes, i);
        let w = &bytes[i..we];
        let format = w
            .iter()
            .filter(|&&b| b != b'\'' && b != b'"')
            .eq(b"%s".iter())
            || w.iter()
                .filter(|&&b| b != b'\'' && b != b'"')
                .eq(b"%s\\n".iter());
        if matches!(w, b"-n" | b"-e" | b"-ne" | b"-en") || format {
            i = we;
            continue;
        }
        break;
    }
    let q = *bytes.get(i)?;
    let (vs, ve, quoted) = if q == b'"' || q == b'\'' {
        let close = bytes[i + 1..].iter().take(4096).position(|&b| b == q)?;
        (i + 1, i + 1 + close, true)
    } else {
        (i, word_end(bytes, i), false)
    };
    let mut j = if quoted { ve + 1 } else { ve };
    while j < bytes.len() && bytes[j] == b' ' {
        j += 1;
    }
    (ve > vs && bytes.get(j) == Some(&b')')).then_some((vs, ve, quoted))
}

/// End of a bare word at `i`: up to a blank, `)`, or a line end.
fn word_end(bytes: &[u8], i: usize) -> usize {
    let n = bytes[i..]
        .iter()
        .take(4096)
        .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b')'))
        .unwrap_or_else(|| (bytes.len() - i).min(4096));
    i + n
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all_kept, all_redacted};

    #[test]
    fn secrets_echoed_into_a_process_substitution() {
        all_redacted(&[
            (
                "sudo wg set wg0 peer 90zjRueKB1isaah/lyZ0CyeNRvqJbWGIXW5yBk9nT3g= preshared-key <(echo a0u/WhJYM5UomF+okRCfxMffoNw//5UV3K57IXhjvwM=) allowed-ips 10.8.0.2/32",
                "a0u/WhJYM5UomF+okRCfxMffoNw//5UV3K57IXhjvwM=",
            ),
            (
                "wg set wg0 private-key <(printf '%s' 'qOxJ8Xb3kz2TnRrWmXxG0u1cPq9eYd4vBm5f7Lk3Hn0=')",
                "qOxJ8Xb3kz2TnRrWmXxG0u1cPq9eYd4vBm5f7Lk3Hn0=",
            ),
            (
                "restic backup /srv --password-file <(echo -n Xk29fjQmv8Lp3Rt7WzNq5YhG)",
                "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            ),
        ]);
        all_kept(&[
            "wg set wg0 peer 90zjRueKB1isaah/lyZ0CyeNRvqJbWGIXW5yBk9nT3g= allowed-ips <(echo 10.8.0.2/32)",
            "diff <(echo a0u/WhJYM5UomF+okRCfxMffoNw//5UV3K57IXhjvwM=) key.txt",
            "wg set wg0 preshared-key <(echo $PSK)",
            "wg set wg0 private-key <(cat /etc/wireguard/private.key)",
        ]);
    }
}
