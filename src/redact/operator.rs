//! The operator between a secret-bearing name and its value, in every syntax
//! we accept: `=`, `:`, `:=`, `=>`, `==`, typed `: &str =`, Go `string =`,
//! call arguments `(`, `,`, fallbacks `??` / `||` / `or`, XML `>`, Markdown
//! table cells, prose (`is`, `was`, `for the admin account is`), and plain
//! whitespace after CLI flags, Dockerfile `ENV` and `.netrc` keywords.

use super::line_context::{key_starts_line, next_line_follows};
use super::markup::{emphasis_close, properties_line};
use super::phrase::{one_word_below, spoken_is};
use super::text::{contains_ci, line_end, line_start, near_line_start};
use super::words::{CONTINUATION, TYPES};

/// How the value was introduced; decides what the value may look like.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    /// `=`, `:`, `:=`, `=>`, `==`, `>` (XML), typed `: &str =`.
    Assign,
    /// `is`, `was`, `to`: prose.
    Prose,
    /// `(`, `,`, `??`, `||`, `or`: the value must be a string literal.
    Literal,
    /// Whitespace after a CLI flag, Dockerfile `ENV` or `.netrc` keyword.
    Space,
    /// Plain whitespace in prose (`with password X`): the value must look generated.
    Weak,
    /// The default of a variable expansion: `${NAME:-value}`, `${NAME=value}`,
    /// Spring's `${name:value}`; the value runs to the closing brace.
    Default,
    /// `name:` with the value on the following, deeper-indented lines (YAML).
    NextLine,
}

/// Calls that return their argument when a lookup finds nothing:
/// `env::var("X").unwrap_or("fallback")`, `.getOrElse("…")`, `.orElse("…")`.
const FALLBACK_CALLS: &[&str] = &[
    ".unwrap_or_else(",
    ".unwrap_or(",
    ".or_else(",
    ".orElse(",
    ".orElseGet(",
    ".getOrElse(",
    ".or(",
    ".default(",
];

/// After a fallback call's `(`: an optional closure head (`|_|`, `||`,
/// `() =>`, `_ ->`) before the literal.
fn skip_closure_head(bytes: &[u8], i: usize) -> usize {
    let i = skip_blank(bytes, i);
    for head in [
        &b"|_|"[..],
        b"||",
        b"|e|",
        b"|_e|",
        b"() ->",
        b"() =>",
        b"_ =>",
        b"_ ->",
    ] {
        if bytes[i..].starts_with(head) {
            return skip_blank(bytes, i + head.len());
        }
    }
    i
}

/// `${NAME` just before `raw_s`: the name of a shell or Spring expansion.
fn in_expansion(bytes: &[u8], raw_s: usize) -> bool {
    raw_s >= 2 && &bytes[raw_s - 2..raw_s] == b"${"
}

/// Most continuation words a name takes (see [`parse_op`]).
const MAX_CONTINUATION_WORDS: usize = 4;

pub(crate) fn skip_blank(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Parses what follows the identifier; returns the operator, where the value
/// starts and any continuation words that belong to the name.
pub(crate) fn parse_op(
    bytes: &[u8],
    raw_s: usize,
    e: usize,
    flag: bool,
) -> Option<(Op, usize, Vec<u8>)> {
    let n = bytes.len();
    let mut i = e;
    let mut quoted_name = raw_s > 0 && matches!(bytes[raw_s - 1], b'"' | b'\'' | b'`');
    // Closing quotes / brackets of the name: `"pw"`, `\"pw\"`, `\\\"pw\\\"`, `["KEY"]`, `getenv("KEY")`.
    let mut closers = 0;
    while i < n && closers < 8 && matches!(bytes[i], b'"' | b'\'' | b'`' | b'\\' | b']' | b')') {
        if matches!(bytes[i], b'"' | b'\'' | b'`') {
            quoted_name = true;
        }
        i += 1;
        closers += 1;
    }
    let mut extra = Vec::new();
    let mut j = i;
    // Spoken continuation words, then an optional `[None]` prompt default.
    // A name takes a few (`secret access key id`); reading on through a run
    // of them would make every name inside the run read to its end, and a
    // message of `key key key …` cost time quadratic in its length.
    for _ in 0..MAX_CONTINUATION_WORDS {
        let k = skip_blank(bytes, j);
        if k == j || k >= n {
            break;
        }
        let w_end = (k..n)
            .find(|&x| !bytes[x].is_ascii_alphabetic())
            .unwrap_or(n);
        let w = &bytes[k..w_end];
        if w_end > k
            && CONTINUATION
                .iter()
                .any(|c| w.eq_ignore_ascii_case(c.as_bytes()))
        {
            extra.extend_from_slice(b" ");
            extra.extend_from_slice(w);
            j = w_end;
        } else {
            break;
        }
    }
    let mut k = skip_blank(bytes, j);
    if k < n && bytes[k] == b'[' {
        let close = bytes[k..(k + 40).min(n)]
            .iter()
            .position(|&b| b == b']' || b == b'\n')?;
        if bytes[k + close] == b']' {
            k = skip_blank(bytes, k + close + 1);
        }
    }
    if k > j
        && let Some(q) = super::markup::qualifier_end(bytes, k)
    {
        k = q;
    }
    if !extra.is_empty() || k > j {
        i = k;
    } else {
        extra.clear();
        i = skip_blank(bytes, i);
    }
    // A label in bold: `**Token**: x` (`<b>Token</b>: x`) closes the
    // emphasis before its colon; `**Password:** x` after it.
    let emphasis = emphasis_close(bytes, raw_s);
    if let Some(close) = emphasis
        && bytes[i..].starts_with(close)
        && bytes.get(i + close.len()) == Some(&b':')
    {
        i += close.len();
    }
    if i >= n {
        return None;
    }
    let rest = &bytes[i..(i + 4).min(n)];
    let after = |len: usize| skip_blank(bytes, i + len);
    if in_expansion(bytes, raw_s) {
        // `${NAME:?message}` and `${NAME:+alt}` hold no default.
        for op in [&b":-"[..], b":=", b"-", b"=", b":"] {
            if rest.starts_with(op) && !rest[op.len()..].starts_with(b"?") {
                return Some((Op::Default, i + op.len(), extra));
            }
        }
        return None;
    }
    if rest.starts_with(b"=>")
        && bytes[e..i].contains(&b']')
        && let Some(v) = super::nextline::var_dump_value(bytes, i + 2)
    {
        return Some((Op::Assign, v, extra));
    }
    // Ruby's and JavaScript's assign-if-unset (`ENV["X"] ||= "…"`, `x ??= "…"`)
    // before the `||` / `??` fallbacks below, which take only a literal.
    if rest.starts_with(b"||=") || rest.starts_with(b"??=") {
        return Some((Op::Assign, after(3), extra));
    }
    if rest.starts_with(b"?=") {
        return Some((Op::Assign, after(2), extra));
    }
    if rest.starts_with(b"?:") {
        return Some((Op::Literal, after(2), extra));
    }
    if closers > 0 && bytes[e..i].contains(&b')') {
        // `getenv("X") { "fallback" }` (Ruby's fetch block) and `.unwrap_or("…")`.
        if rest.starts_with(b"{") {
            return Some((Op::Literal, after(1), extra));
        }
        if let Some(call) = FALLBACK_CALLS
            .iter()
            .find(|c| bytes[i..].starts_with(c.as_bytes()))
        {
            return Some((Op::Literal, skip_closure_head(bytes, i + call.len()), extra));
        }
    }
    if rest.starts_with(b":=") || rest.starts_with(b"=>") {
        return Some((Op::Assign, after(2), extra));
    }
    if rest.starts_with(b"===") {
        return Some((Op::Assign, after(3), extra));
    }
    if rest.starts_with(b"==") {
        return Some((Op::Assign, after(2), extra));
    }
    if rest.starts_with(b"=") {
        let v = after(1);
        // `NAME=#x`: in a shell or `.env` line a `#` glued to the `=` is
        // part of the value, not a comment.
        let glued_hash = v == i + 1 && bytes.get(v) == Some(&b'#');
        if !glued_hash
            && next_line_follows(bytes, v)
            && !matches!(bytes.get(v), Some(b'|' | b'>'))
            && key_starts_line(bytes, raw_s)
        {
            // `name =` and the value wrapped onto the next, indented line.
            return Some((Op::NextLine, v, extra));
        }
        return Some((Op::Assign, v, extra));
    }
    if let Some(len) = super::phrase::copula(&bytes[i..(i + 24).min(n)]) {
        return Some((Op::Prose, skip_blank(bytes, i + len), extra));
    }
    if rest.starts_with(b"::") || rest.starts_with(b":/") {
        return None;
    }
    if rest.starts_with(b":") {
        // The colon of `**Password:** x` is followed by the emphasis's close.
        let colon_end = match emphasis {
            Some(close) if bytes[i + 1..].starts_with(close) => i + 1 + close.len(),
            _ => i + 1,
        };
        // `secret:prod/db` (ARNs, image tags, `host:port`) is not an assignment;
        // a colon glued to its value counts only in JSON, headers and quotes.
        let glued = !matches!(
            bytes.get(colon_end),
            Some(b' ' | b'\t' | b'\n' | b'\r') | None
        );
        let header_like = bytes[raw_s..e].contains(&b'-');
        if glued
            && !quoted_name
            && !header_like
            && !matches!(bytes.get(i + 1), Some(b'"' | b'\'' | b'`'))
            && !properties_line(bytes, raw_s, colon_end)
            && !super::markup::struct_field(bytes, raw_s)
        {
            return None;
        }
        let v = skip_blank(bytes, colon_end);
        // Only a key that starts its line (YAML, pretty JSON) takes its value
        // from the next lines; `if password:` in Python opens a block. In
        // prose (`The admin password is:`) one word alone on an indented
        // line below is the value.
        if next_line_follows(bytes, v) {
            return (key_starts_line(bytes, raw_s) || one_word_below(bytes, v)).then_some((
                Op::NextLine,
                v,
                extra,
            ));
        }
        return Some((Op::Assign, skip_type(bytes, v).unwrap_or(v), extra));
    }
    // Table row: `| db_password | value |` (Markdown), `║ PWD ║ value ║`
    // (box-drawing CLI output).
    let row = line_start(bytes, raw_s);
    let row = skip_blank(bytes, row);
    for bar in ["|", "║", "│", "┃"] {
        let bar = bar.as_bytes();
        if bytes[i..].starts_with(bar) && bytes[row..].starts_with(bar) {
            let v = skip_blank(bytes, i + bar.len());
            if v > i + bar.len() && v < n && !bytes[v..].starts_with(bar) {
                return Some((Op::Assign, v, extra));
            }
        }
    }
    if rest.starts_with(b"??") || rest.starts_with(b"||") {
        return Some((Op::Literal, after(2), extra));
    }
    // `getenv("KEY", "fallback")`; in Markdown "`RequestCredentials`,
    // `RequestInit`" is a list of code spans, not a name and its default.
    let code_span = bytes.get(e) == Some(&b'`');
    // `"$DB_PASSWORD", "region"`: the variable's value expanded in a list or
    // a command's arguments, not its name handed to a setter.
    let expanded = raw_s > 0 && bytes[raw_s - 1] == b'$';
    if (rest.starts_with(b"(") && !quoted_name)
        || (rest.starts_with(b",")
            && quoted_name
            && !code_span
            && !expanded
            && !listed_after_string(bytes, raw_s))
    {
        return Some((Op::Literal, after(1), extra));
    }
    // A property list (iOS, macOS): `<key>APISecret</key>` `<string>X</string>`.
    if let Some(v) = super::markup::plist_value(bytes, raw_s, i) {
        return Some((Op::Assign, v, extra));
    }
    // XML `<password>value</password>`; a `<password>` placeholder in a URL
    // or a template (`postgres://app:<password>@db`) has no closing tag.
    if let Some(v) = super::markup::element_text(bytes, raw_s, e) {
        return Some((Op::Assign, v, extra));
    }
    if rest.starts_with(b">") && super::markup::named_element(bytes, raw_s, i + 1) {
        return Some((Op::Assign, i + 1, extra));
    }
    if let Some(v) = super::phrase::new_value_after(bytes, e) {
        return Some((Op::Prose, v, extra));
    }
    if i > e && bytes[i].is_ascii_alphabetic() {
        let w_end = (i..n)
            .find(|&x| !bytes[x].is_ascii_alphabetic())
            .unwrap_or(n);
        let w = &bytes[i..w_end];
        if [
            &b"is"[..],
            b"was",
            b"to",
            b"ist",
            b"es",
            b"est",
            b"vale",
            b"lautet",
        ]
        .iter()
        .any(|x| w.eq_ignore_ascii_case(x))
        {
            let mut v = skip_blank(bytes, w_end);
            // `Set the webhook signing secret to X`: an instruction that
            // assigns, not a sentence about a value.
            if w.eq_ignore_ascii_case(b"to") && super::spaced::set_sentence(bytes, raw_s) {
                return Some((Op::Assign, v, extra));
            }
            for filler in [
                &b"now "[..],
                b"still ",
                b"currently ",
                b"set to ",
                b"just ",
                b"changed to ",
                b"rotated to ",
                b"updated to ",
                b"reset to ",
            ] {
                if bytes.len() >= v + filler.len()
                    && bytes[v..v + filler.len()].eq_ignore_ascii_case(filler)
                {
                    v = skip_blank(bytes, v + filler.len());
                }
            }
            if v < n && bytes[v] == b':' {
                v = skip_blank(bytes, v + 1);
            }
            // `The admin password is:` and the value alone on an indented
            // line below.
            if next_line_follows(bytes, v) {
                return one_word_below(bytes, v).then_some((Op::NextLine, v, extra));
            }
            return Some((Op::Prose, v, extra));
        }
        if w == b"or" {
            return Some((Op::Literal, skip_blank(bytes, w_end), extra));
        }
        // `the API key changed to X`, `token rotated to X`.
        if [&b"changed"[..], b"rotated", b"updated", b"reset"]
            .iter()
            .any(|x| w.eq_ignore_ascii_case(x))
            && bytes.len() >= w_end + 4
            && bytes[w_end..w_end + 4].eq_ignore_ascii_case(b" to ")
        {
            return Some((Op::Prose, skip_blank(bytes, w_end + 4), extra));
        }
        // Go: `var apiKey string = "…"`.
        if TYPES.iter().any(|t| w == t.as_bytes()) {
            let k = skip_blank(bytes, w_end);
            if k < n && bytes[k] == b'=' && bytes.get(k + 1) != Some(&b'=') {
                return Some((Op::Assign, skip_blank(bytes, k + 1), extra));
            }
        }
        if i > e && (flag || space_keyword_line(bytes, raw_s, e)) {
            return Some((Op::Space, i, extra));
        }
    }
    let spaced = i > e
        && (flag
            || space_keyword_line(bytes, raw_s, e)
            || super::spaced::scoped_config_set(bytes, raw_s));
    if spaced
        && (matches!(bytes[i], b'"' | b'\'' | b'0'..=b'9' | b'_')
            || base64_start(bytes, i)
            || super::spaced::symbol_start(bytes, i, flag))
    {
        return Some((Op::Space, i, extra));
    }
    if super::spaced::aligned_row(bytes, raw_s, e, i) || (spaced && bytes[i].is_ascii_alphabetic())
    {
        return Some((Op::Space, i, extra));
    }
    // `API key -> X`, `API key → X` (spaced: `$token->id` is code; after a
    // closing parenthesis it is a return type: `fn f(t: TokenStream) -> Lifetime`).
    if i > e && bytes[i - 1] == b' ' && !bytes[e..i].contains(&b')') {
        for arrow in [&b"-> "[..], "→ ".as_bytes()] {
            if bytes[i..].starts_with(arrow) {
                return Some((Op::Prose, skip_blank(bytes, i + arrow.len()), extra));
            }
        }
    }
    if i > e {
        if let Some(v) = spoken_is(bytes, i) {
            // `The API token for staging is:` and the value alone on an
            // indented line below (as chat messages set it apart).
            if next_line_follows(bytes, v) {
                return one_word_below(bytes, v).then_some((Op::NextLine, v, extra));
            }
            return Some((Op::Prose, v, extra));
        }
        if super::spaced::quoted_password(bytes, raw_s, e, i) {
            return Some((Op::Space, i, extra));
        }
        // `with password X`, `using token X`: only a value that is clearly generated counts.
        if bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'`' | b'"' | b'\'') {
            return Some((Op::Weak, i, extra));
        }
    }
    None
}

/// The quoted name at `raw_s` follows another string literal in a list
/// (`"cache_mgr", "cachemgr_passwd", "cache_peer"`): an item among words,
/// not a name with its value (`getenv("KEY", "…")`, Go's
/// `flag.StringVar(&pw, "password", "…", …)`).
fn listed_after_string(bytes: &[u8], raw_s: usize) -> bool {
    let mut k = raw_s;
    while k > 0 && matches!(bytes[k - 1], b'"' | b'\'' | b'\\') {
        k -= 1;
    }
    // The list may wrap: the item before can end the line above.
    let blank = |k: &mut usize| {
        let from = *k;
        while *k > 0 && from - *k < 256 && matches!(bytes[*k - 1], b' ' | b'\t' | b'\n' | b'\r') {
            *k -= 1;
        }
    };
    blank(&mut k);
    if k == 0 || bytes[k - 1] != b',' {
        return false;
    }
    k -= 1;
    blank(&mut k);
    k > 0 && matches!(bytes[k - 1], b'"' | b'\'')
}

/// A base64 value that happens to start with `+` or `/` (`--account-key
/// +olN…==`), not a path: no other `/` or `.` in its first 20 bytes.
fn base64_start(bytes: &[u8], i: usize) -> bool {
    let head = &bytes[i + 1..(i + 21).min(bytes.len())];
    matches!(bytes[i], b'+' | b'/')
        && head.len() == 20
        && head.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+')
}

/// `name: &str = "…"`: returns where the value starts after a known type.
fn skip_type(bytes: &[u8], v: usize) -> Option<usize> {
    let le = line_end(bytes, v).min(v + 40);
    let eq = bytes[v..le].iter().position(|&b| b == b'=')?;
    if bytes.get(v + eq + 1) == Some(&b'=') || bytes.get(v + eq + 1) == Some(&b'>') {
        return None;
    }
    let ty = trim(&bytes[v..v + eq]);
    TYPES
        .iter()
        .any(|t| ty == t.as_bytes())
        .then(|| skip_blank(bytes, v + eq + 1))
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let a = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    let b = s.iter().rposition(|&b| b != b' ').map_or(a, |p| p + 1);
    &s[a..b]
}

/// Lines where `NAME value` (no operator) assigns: Dockerfile `ENV`, `.netrc`,
/// `redis.conf`'s `requirepass`, keepalived's `auth_pass`, `set -x` in fish,
/// `netlify env:set`.
fn space_keyword_line(bytes: &[u8], raw_s: usize, e: usize) -> bool {
    let ls = near_line_start(bytes, raw_s, 160).unwrap_or(raw_s.saturating_sub(160));
    let head = trim(&bytes[ls..raw_s]);
    const LINE_KEYWORDS: &[&str] = &[
        "password",
        "passwd",
        "requirepass",
        "masterauth",
        "masterpass",
        "auth_pass",
    ];
    let name = &bytes[raw_s..e];
    head.eq_ignore_ascii_case(b"ENV")
        || (head.is_empty()
            && LINE_KEYWORDS
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k.as_bytes())))
        || head.ends_with(b" login")
        || contains_ci(head, b"machine ")
        // Deploy tools that set a variable as `NAME value`: Netlify's
        // `env:set`, Doppler's and Dokku's `secrets set` / `config:set`.
        || ["set -x", "set -gx", "setx", "env:set", "secrets set"]
            .iter()
            .any(|c| command_ends(head, c.as_bytes()))
}

/// Whether `head` (a line up to a name) ends with the command `cmd`, alone
/// or after a prompt (`~/src (main)> set -gx`, `C:\> setx`).
fn command_ends(head: &[u8], cmd: &[u8]) -> bool {
    head.ends_with(cmd)
        && (head.len() == cmd.len() || matches!(head[head.len() - cmd.len() - 1], b' ' | b'>'))
}
