//! How interactive shells and debuggers show an expression and its value,
//! for [`super::shown`]: the prompt a line starts with (`>>> `, `> `,
//! `irb(main):001> `, `[1] pry(main)> `, `jshell> `, `(gdb) `, `(lldb) `,
//! `(dlv) `, `(Pdb) `, `ipdb> `, `In [3]: `), the name an expression reads
//! (`os.environ.get("DB_PASSWORD")`, `cfg->api_key`), and the decoration
//! around a printed value (`=> "…"`, `$1 ==> "…"`, `$1 = 0x55d0 "…"`,
//! `Out[3]: '…'`, ObjC's `@"…"`).

/// Where the expression starts on a line that begins with a known prompt.
pub(crate) fn expression_start(line: &[u8]) -> Option<usize> {
    let lead = line.len() - line.trim_ascii_start().len();
    let t = &line[lead..];
    let lower = |p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
    for p in [
        &b">>> "[..],
        b"> ",
        b"jshell> ",
        b"(gdb) ",
        b"(lldb) ",
        b"(dlv) ",
        b"(pdb) ",
        b"ipdb> ",
    ] {
        if lower(p) {
            return Some(lead + p.len());
        }
    }
    // `irb(main):001> `, `irb(main):001:0> `, `[1] pry(main)> `, `In [3]: `.
    let rest = match t {
        [b'[', ..] => {
            let close = t.iter().take(8).position(|&b| b == b']')?;
            t[close + 1..].trim_ascii_start()
        }
        _ => t,
    };
    let head = lead + (t.len() - rest.len());
    if rest.starts_with(b"irb(") || rest.starts_with(b"pry(") {
        let gt = rest.iter().take(32).position(|&b| b == b'>')?;
        return Some(head + gt + 1 + usize::from(rest.get(gt + 1) == Some(&b' ')));
    }
    if t.starts_with(b"In [") {
        let close = t.iter().take(12).position(|&b| b == b':')?;
        return Some(lead + close + 1 + usize::from(t.get(close + 1) == Some(&b' ')));
    }
    None
}

/// The name an expression ends by reading: the last identifier, after any
/// closing quotes, brackets and parentheses (`ENV["API_KEY"]`,
/// `System.getenv("TOKEN")`, `settings.SECRET_KEY`, `p cfg->db_password`).
/// A call's own name is none (`secrets.token_hex()` computes a value; it
/// names nothing stored), and so is a call's argument unless the call looks
/// a name up (`getenv`, `get`, `fetch`): `encode('user:password')` computes.
pub(crate) fn last_name(expr: &[u8]) -> &[u8] {
    let mut e = expr.len();
    let mut parens = 0;
    while e > 0 && matches!(expr[e - 1], b')' | b']' | b'"' | b'\'' | b' ' | b';') {
        parens += usize::from(expr[e - 1] == b')');
        e -= 1;
    }
    let mut s = e;
    while s > 0 && (expr[s - 1].is_ascii_alphanumeric() || matches!(expr[s - 1], b'_' | b'-')) {
        s -= 1;
    }
    if parens > 1 || (parens == 1 && !looked_up(&expr[..s])) {
        return &[];
    }
    &expr[s..e]
}

/// Whether `head` ends with the opening of a call that looks a name up:
/// `getenv("`, `environ.get('`, `ENV.fetch("`, `config.get_secret("`.
fn looked_up(head: &[u8]) -> bool {
    let head = head
        .strip_suffix(b"\"")
        .or_else(|| head.strip_suffix(b"'"))
        .unwrap_or(head);
    let Some(head) = head.strip_suffix(b"(") else {
        return false;
    };
    let s = head
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(0, |p| p + 1);
    let callee = head[s..].to_ascii_lowercase();
    [
        "get", "env", "fetch", "var", "lookup", "secret", "param", "setting", "config", "property",
    ]
    .iter()
    .any(|w| callee.windows(w.len()).any(|x| x == w.as_bytes()))
}

/// The value on a line a REPL or debugger printed, without its decoration
/// and quotes: start and end within `line`, and whether it was quoted.
pub(crate) fn printed_value(line: &[u8]) -> (usize, usize, bool) {
    let mut s = line.len() - line.trim_ascii_start().len();
    let e = line.trim_ascii_end().len().max(s);
    let strip = |s: &mut usize, p: &[u8]| {
        let ok = line[*s..e].starts_with(p);
        if ok {
            *s += p.len();
        }
        ok
    };
    // IPython's `Out[3]: `.
    if line[s..e].starts_with(b"Out[")
        && let Some(c) = line[s..e].iter().take(12).position(|&b| b == b':')
    {
        s = skip_spaces(line, s + c + 1, e);
    }
    if !strip(&mut s, b"=> ") {
        // A debugger's `(const char *) $0 = `, gdb's `$1 = `, jshell's `$1 ==> `.
        let t = &line[s..e];
        let typed = t.first() == Some(&b'(');
        let after_type = if typed {
            t.iter().position(|&b| b == b')').map_or(0, |p| p + 1)
        } else {
            0
        };
        let k = skip_spaces(line, s + after_type, e);
        if line.get(k) == Some(&b'$') {
            let digits = line[k + 1..e]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let mut j = skip_spaces(line, k + 1 + digits, e);
            for op in [&b"==> "[..], b"= "] {
                if line[j..e].starts_with(op) {
                    j += op.len();
                    s = j;
                    break;
                }
            }
        }
    }
    // gdb prints a `char *` as its address, then the string.
    if line[s..e].starts_with(b"0x") {
        let hex = line[s + 2..e]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if line.get(s + 2 + hex) == Some(&b' ') {
            s = skip_spaces(line, s + 2 + hex, e);
        }
    }
    if line[s..e].starts_with(b"@\"") {
        s += 1;
    }
    match &line[s..e] {
        [q @ (b'\'' | b'"'), .., last] if last == q && e - s > 2 => (s + 1, e - 1, true),
        _ => (s, e, false),
    }
}

fn skip_spaces(line: &[u8], mut i: usize, e: usize) -> usize {
    while i < e && line[i] == b' ' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_names_and_printed_values() {
        for (line, expr) in [
            (">>> os.environ.get(\"X\")", "os.environ.get(\"X\")"),
            ("> process.env.X", "process.env.X"),
            ("irb(main):001> ENV[\"X\"]", "ENV[\"X\"]"),
            (
                "[1] pry(main)> Rails.application.credentials.x",
                "Rails.application.credentials.x",
            ),
            ("jshell> System.getenv(\"X\")", "System.getenv(\"X\")"),
            ("(gdb) p cfg->x", "p cfg->x"),
            ("(Pdb) x", "x"),
            ("In [3]: settings.X", "settings.X"),
        ] {
            let s = expression_start(line.as_bytes()).unwrap();
            assert_eq!(&line[s..], expr);
        }
        assert!(expression_start(b"Hello > world").is_none());
        assert_eq!(
            last_name(b"os.environ.get(\"DB_PASSWORD\")"),
            b"DB_PASSWORD"
        );
        assert_eq!(last_name(b"p cfg->api_key"), b"api_key");
        assert_eq!(last_name(b"secrets.token_hex()"), b"");
        assert_eq!(last_name(b"System.getenv(\"API_TOKEN\")"), b"API_TOKEN");
        assert_eq!(last_name(b"str(_encode_auth('user%3Apassword'))"), b"");
        assert_eq!(last_name(b"hash_it('password')"), b"");
        for (line, value) in [
            ("'abc'", "abc"),
            ("=> \"abc\"", "abc"),
            ("$1 ==> \"abc\"", "abc"),
            ("$1 = 0x55d0c2a0 \"abc\"", "abc"),
            ("(NSString *) $0 = 0x600 @\"abc\"", "abc"),
            ("Out[3]: 'abc'", "abc"),
            ("abc", "abc"),
        ] {
            let (s, e, _) = printed_value(line.as_bytes());
            assert_eq!(&line[s..e], value, "{line}");
        }
    }
}
