//! Secret assignments in every syntax that carries them: `.env`, `export`,
//! YAML, JSON, TOML, INI, Spring properties, code (`=`, `:=`, `=>`, typed
//! `: &str =`, call arguments, `?? "fallback"`), CLI flags (`--password x`),
//! Dockerfile `ENV`, XML elements, query strings (`?api_key=`), ADO.NET
//! (`Password=…;`), `name:`/`value:` pairs and prose (`the password is …`).
//!
//! A keyword hit (`pass`, `key`, `token`, …) grows to the whole identifier,
//! the identifier is classified by [`super::names`], and only the value is
//! replaced. Every look-around is bounded, and the identifier just parsed is
//! remembered so other keywords inside it are skipped.

use super::kinds::Kind;
use super::line_context::literal_context;
use super::literal::{MAX_BARE, MAX_VALUE, read_value, run_end};
use super::names::{NameClass, classify, split_words};
use super::nextline;
use super::operator::{Op, parse_op, skip_blank};
use super::phrase::{phrase_end, phrase_head_ok, phrase_name, phrase_ok};
use super::scan::Scan;
use super::sibling;
use super::spoken_name::{prev_word, service_before};
use super::text::{find_ci, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// Longest identifier part we grow on either side of a keyword.
const MAX_IDENT: usize = 64;
/// Longest part of a value that is judged (the whole value is replaced).
const MAX_JUDGED: usize = 1024;

/// Whether an identifier is, or contains, one of our placeholders.
fn contains_placeholder(ident: &[u8]) -> bool {
    super::kinds::is_placeholder_like(ident) || ident.windows(9).any(|w| w == b"_REDACTED")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// Whether the function named by `ident` (its last part: `db.changeUser
/// Password`, not `user.setPassword`) names a user too.
fn call_names_a_user(ident: &[u8]) -> bool {
    let last = ident
        .iter()
        .rposition(|&b| matches!(b, b'.' | b':'))
        .map_or(ident, |p| &ident[p + 1..]);
    super::text::find_ci(last, b"user").is_some()
}

/// Handles a keyword anchor found at `start..end`.
pub(crate) fn on_keyword(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start < scan.ident_done {
        return;
    }
    let mut s = start;
    while s > 0 && is_ident(bytes[s - 1]) {
        if start - s >= MAX_IDENT {
            return;
        }
        s -= 1;
    }
    let mut e = end;
    while e < bytes.len() && is_ident(bytes[e]) {
        if e - end >= MAX_IDENT {
            scan.ident_done = e;
            return;
        }
        e += 1;
    }
    scan.ident_done = e;
    let (rvs, rve) = scan.rejected_value;
    if s >= rvs
        && e < rve
        && matches!(bytes[e], b'=' | b':')
        && (s == rvs || matches!(bytes[s - 1], b'=' | b':'))
    {
        return;
    }
    // `${NAME-default}`: the `-` starts the default, not more name.
    if s >= 2
        && &bytes[s - 2..s] == b"${"
        && let Some(d) = bytes[s..e].iter().position(|&b| b == b'-')
    {
        e = s + d;
        scan.ident_done = e;
    }
    // Gradle's `systemProp.https.proxyPassword=`: the prefix says where the
    // property goes, not what it is (its `prop` would read as React's).
    if bytes[s..e].starts_with(b"systemProp.") {
        s += b"systemProp.".len();
    }
    let raw_s = s;
    while s < e && matches!(bytes[s], b'-' | b'.') {
        s += 1;
    }
    while e > s && matches!(bytes[e - 1], b'-' | b'.') {
        e -= 1;
    }
    // Our own placeholders are not names (`TOKEN_REDACTED: x` must stay as is
    // on a second pass), nor is a word a placeholder was glued into
    // (`keyTOKEN_REDACTED hp_1…`): the first pass did not read it as a name,
    // so the second must not either, or redaction would not be idempotent.
    if s >= e || contains_placeholder(&bytes[raw_s..e]) || super::names::is_file_name(&bytes[s..e])
    {
        return;
    }
    let flag = bytes[raw_s] == b'-' && s - raw_s <= 2;
    if flag && super::cli::is_switch(bytes, raw_s, &bytes[s..e]) {
        return;
    }
    if super::listing::on_column_header(scan, s, e) {
        return;
    }
    if let Some(vstart) = super::markup::name_value_form(bytes, raw_s, e)
        .or_else(|| super::markup::child_value_form(bytes, raw_s, e))
    {
        let found = if super::line_context::next_line_follows(bytes, vstart) {
            nextline::value(bytes, line_start(bytes, vstart), vstart)
        } else {
            read_value(bytes, vstart, false)
        };
        let Some((vs, ve, quoted)) = found else {
            return;
        };
        let value = Value::new(vs, ve, quoted);
        emit(scan, s, e, raw_s, &[], value, Op::Assign);
        return;
    }
    // A label alone above its value, or a Hadoop `<name>`/`<value>` pair
    // (whose name may end in the account it is for).
    if let Some((ne, vs, ve)) = super::label_below::value(bytes, raw_s, e)
        .map(|(vs, ve)| (e, vs, ve))
        .or_else(|| super::markup::xml_property(bytes, raw_s, e))
    {
        let value = Value {
            literal: true,
            ..Value::new(vs, ve, false)
        };
        emit(scan, s, ne, raw_s, &[], value, Op::Assign);
        return;
    }
    let Some((op, vstart, extra)) = parse_op(bytes, raw_s, e, flag) else {
        return;
    };
    // `changeUserPassword("reporting", pw)`, `UsernamePasswordCredentials(
    // "elastic", pw)`: a call named for a user and a password takes the user
    // first (the password, by position, is `calls`' to find).
    if op == Op::Literal
        && bytes[..vstart].trim_ascii_end().last() == Some(&b'(')
        && call_names_a_user(&bytes[raw_s..e])
    {
        return;
    }
    if matches!(op, Op::Assign | Op::NextLine)
        && let Some(items) = super::seq::items(bytes, raw_s, e, vstart)
    {
        for (vs, ve, quoted) in items {
            let item = Value {
                literal: true,
                ..Value::new(vs, ve, quoted)
            };
            emit(scan, s, e, raw_s, &extra, item, Op::Assign);
        }
        return;
    }
    let value = match op {
        Op::Default => {
            let Some((vs, ve)) = expansion_default(bytes, vstart) else {
                return;
            };
            Value::new(vs, ve, true)
        }
        Op::NextLine => {
            let Some((vs, ve, quoted)) = nextline::value(bytes, line_start(bytes, raw_s), vstart)
            else {
                return;
            };
            // A YAML scalar is a literal; an unquoted one of several words
            // must still read as a passphrase.
            Value {
                literal: true,
                phrase: (!quoted).then_some(ve),
                ..Value::new(vs, ve, quoted)
            }
        }
        _ => {
            let vstart = if op == Op::Literal {
                skip_default_word(bytes, vstart)
            } else {
                super::wrapped::literal_inside(bytes, vstart).unwrap_or(vstart)
            };
            let query = raw_s > 0 && matches!(bytes[raw_s - 1], b'?' | b'&');
            let Some((vs, ve, quoted)) = read_value(bytes, vstart, query) else {
                return;
            };
            let ve = match (quoted, op) {
                (false, Op::Assign) => {
                    super::line_context::runs_to_line_end(bytes, raw_s, e, vstart, ve).unwrap_or(ve)
                }
                _ => ve,
            };
            if op == Op::Literal && !quoted {
                return;
            }
            // A field of a printed struct holds a value, never an expression.
            let literal = quoted
                || (op == Op::Assign
                    && (literal_context(bytes, raw_s, e, vstart, ve)
                        || super::markup::struct_field(bytes, raw_s)));
            // Several words may be one password after `=`, `:` or `is`,
            // not after a verb (`pass to the linker`) or in a shell line.
            let phrase = (!quoted
                && bytes.get(ve) == Some(&b' ')
                && ((op == Op::Assign && phrase_head_ok(bytes, raw_s))
                    || (op == Op::Prose && after_is(bytes, vs)))
                && !line_head_is(bytes, raw_s, b"export"))
            .then(|| phrase_end(bytes, vs))
            .flatten();
            Value {
                vs,
                ve,
                quoted,
                literal,
                phrase,
            }
        }
    };
    emit(scan, s, e, raw_s, &extra, value, op);
}

/// A value found for a name: where it is, how it was written, and, for an
/// unquoted value that stopped at a space, where it would end if it were a
/// passphrase of several words.
#[derive(Clone, Copy)]
struct Value {
    vs: usize,
    ve: usize,
    /// Written as a string literal.
    quoted: bool,
    /// Quoted, or in a place where a bare word is a literal (`.env`, YAML).
    literal: bool,
    phrase: Option<usize>,
}

impl Value {
    fn new(vs: usize, ve: usize, quoted: bool) -> Value {
        Value {
            vs,
            ve,
            quoted,
            literal: quoted,
            phrase: None,
        }
    }
}

/// Whether the value at `vs` follows the word `is` or `was` (and maybe a colon).
fn after_is(bytes: &[u8], vs: usize) -> bool {
    let mut i = vs;
    while i > 0 && matches!(bytes[i - 1], b' ' | b':') {
        i -= 1;
    }
    let mut s = i;
    while s > 0 && bytes[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    let w = &bytes[s..i];
    w.eq_ignore_ascii_case(b"is") || w.eq_ignore_ascii_case(b"was")
}

/// Whether the line holding `at` starts with `word` (`export NAME=…`).
fn line_head_is(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    let Some(ls) = super::text::near_line_start(bytes, at, 64) else {
        return false;
    };
    let head = super::operator::trim(&bytes[ls..at]);
    head.len() >= word.len() && head[..word.len()].eq_ignore_ascii_case(word)
}

/// `default="…"`, `fallback=…` between a call's name argument and its
/// literal (`env("KEY", default="…")`): skipped to reach the literal.
fn skip_default_word(bytes: &[u8], i: usize) -> usize {
    for w in [&b"default"[..], b"defaultValue", b"fallback"] {
        if bytes.len() >= i + w.len() && bytes[i..i + w.len()].eq_ignore_ascii_case(w) {
            let j = skip_blank(bytes, i + w.len());
            if matches!(bytes.get(j), Some(b'=' | b':')) {
                return skip_blank(bytes, j + 1);
            }
        }
    }
    i
}

/// The default in `${NAME:-value}` (also `-`, `:=`, `=`, Spring's `:`),
/// up to the closing brace; a default that is itself an expansion is none.
fn expansion_default(bytes: &[u8], vs: usize) -> Option<(usize, usize)> {
    let le = line_end(bytes, vs).min(vs + MAX_VALUE);
    let close = bytes[vs..le].iter().position(|&b| b == b'}')?;
    let (mut s, mut e) = (vs, vs + close);
    if e > s + 1 && matches!(bytes[s], b'"' | b'\'') && bytes[e - 1] == bytes[s] {
        s += 1;
        e -= 1;
    }
    let v = &bytes[s..e];
    (!v.is_empty() && !v.contains(&b'$') && !v.contains(&b'{')).then_some((s, e))
}

fn emit(scan: &mut Scan<'_>, s: usize, e: usize, raw_s: usize, extra: &[u8], value: Value, op: Op) {
    let bytes = scan.bytes;
    let mut words = Vec::new();
    // The word before a flag (`relay-cli sync --token X`) or a glued
    // `NAME=` (`tool sync TOKEN=X`) is the command's, not a qualifier of
    // the name: `sync` there must not read as a pagination `sync token`.
    let command_word = bytes[raw_s] == b'-' || bytes.get(e) == Some(&b'=');
    if let Some(prev) = prev_word(bytes, raw_s).filter(|_| !command_word) {
        split_words(prev, &mut words);
    } else if op == Op::Assign
        && matches!(&bytes[s..e], b"key" | b"token")
        && let Some(parent) = nextline::parent_key(bytes, line_start(bytes, raw_s))
    {
        // `secret:` / `  key: x` (Spring's `app.secret.key`, `stripe:` / `  key:`).
        split_words(parent, &mut words);
    }
    let before = words.len();
    split_words(&bytes[s..e], &mut words);
    split_words(extra, &mut words);
    let own = words.len() - before;
    let Value { vs, ve, quoted, .. } = value;
    // A block scalar is judged by its first line; a very long value by its
    // start (the whole of it is replaced).
    let first_line = bytes[vs..ve]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(ve, |p| vs + p);
    let v = &bytes[vs..first_line.min(vs + MAX_JUDGED)];
    let Some(class) = super::query::param_class(bytes, raw_s, &bytes[raw_s..e], v)
        .or_else(|| service_before(bytes, raw_s, &words, own))
        .or_else(|| classify(&words, own))
        // A list of them (`passwords:`, `api_keys = [...]`), not prose
        // (`parsing from tokens to X`).
        .or_else(|| {
            matches!(op, Op::Assign | Op::NextLine)
                .then(|| classify(&super::seq::singular(&words)?, own))
                .flatten()
        })
        .or_else(|| rails_encryption_key(bytes, s, e))
        .or_else(|| sibling::gossip_key(&words, v))
    else {
        return;
    };
    if super::k8s::is_sealed_ciphertext(bytes, vs, ve) {
        return;
    }
    let class = refine(sibling::keyed_user(class, bytes, s, e), v, quoted);
    // An unquoted value that stopped at a space may be a passphrase; where the
    // words read as one, they are the value (not just the first word).
    if let Some(pe) = value.phrase
        && class.strictness == Strictness::Password
        && words.last().is_some_and(|w| phrase_name(w))
        && pe > ve
    {
        let pv = &bytes[vs..pe];
        if phrase_ok(pv, false) && is_secret_value(pv, Strictness::Password, true) {
            scan.push(vs, pe, class.kind, class.priority);
            scan.ident_done = scan.ident_done.max(pe);
            return;
        }
    }
    // `token: &ProgressToken`, `colon2_token: node.colon2_token`: code.
    let slot = super::code_value::Slot::new(raw_s, (s, e), (vs, ve));
    let typed = super::code_value::is_code(bytes, &slot, v, quoted, op, class.strictness);
    let accepted = !typed && value_accepted(class, v, value, op, env_name(&bytes[s..e]));
    if accepted {
        let ve = if !quoted && ve - vs >= MAX_BARE {
            run_end(bytes, ve)
        } else {
            ve
        };
        scan.push(vs, ve, class.kind, class.priority);
        // Keywords inside an accepted value are part of the secret: skip them.
        scan.ident_done = scan.ident_done.max(ve);
    } else if !quoted && !bytes[vs..ve].iter().any(u8::is_ascii_whitespace) {
        scan.rejected_value = (vs, ve);
    }
}

/// Whether the first word (or line) `v` of a value is a secret for `class`.
fn value_accepted(class: NameClass, v: &[u8], value: Value, op: Op, env_named: bool) -> bool {
    let quoted = value.quoted;
    // A bare read that stopped at a literal's quote took a call's head
    // (`[]byte(`, `Wrap(`): the secret, if any, is inside.
    // …nor is a command-line option (`pass =--check-cxx-compiler=clang++=`).
    if !quoted && (v.last() == Some(&b'(') || v.starts_with(b"--")) {
        return false;
    }
    if op == Op::Prose && class.strictness == Strictness::Password && !quoted && v.len() < 6 {
        return false;
    }
    if v.contains(&b' ') {
        // Several words: a passphrase written as a literal, not prose about one.
        if !phrase_ok(v, quoted && op != Op::NextLine) || (op == Op::Space && !quoted) {
            return false;
        }
    }
    if op == Op::Weak && !clearly_generated(v) {
        return false;
    }
    // In prose a bare 40/64-hex word after "is" is far more often a commit or
    // digest than a key (`the token fix is cfd1387…`); not after a variable's
    // own name (`DD_APP_KEY の値は …`) or a service's whose keys are hex
    // (`the datadog app key for staging → …`).
    if matches!(op, Op::Weak | Op::Prose)
        && !quoted
        && !env_named
        && class.priority != super::scan::priority::NAMED
        && matches!(v.len(), 40 | 64)
        && v.iter().all(u8::is_ascii_hexdigit)
    {
        return false;
    }
    class.kind == Kind::HttpBasicAuth || is_secret_value(v, class.strictness, value.literal)
}

/// `DD_APP_KEY`, `TWILIO_AUTH_TOKEN`: a name spelt as an environment variable
/// (capitals and digits, words joined by `_`), not a word of prose.
fn env_name(name: &[u8]) -> bool {
    name.contains(&b'_')
        && name.first().is_some_and(u8::is_ascii_uppercase)
        && name
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// For a value introduced by nothing but a space: at least 12 bytes with
/// lower, upper and digits (or 32+ hex), no spaces.
fn clearly_generated(v: &[u8]) -> bool {
    let p = super::text::Profile::of(v);
    let hex = v.len() >= 32 && v.iter().all(u8::is_ascii_hexdigit) && p.digit > 0;
    // Letters alone flipping case every letter or two (`lCWpvFJdZfFTxTSS`)
    // are as generated as with digits.
    let noise = v.len() >= 12
        && v.iter().all(u8::is_ascii_alphabetic)
        && (super::code_type::case_noise(v) || super::gibberish::random_letters(v));
    (v.len() >= 12 && p.lower > 0 && p.upper > 0 && p.digit > 0 && p.space == 0) || hex || noise
}

/// Adjusts a class from the value's own shape: a base64 `user:password` under
/// an `auth` name is HTTP Basic; a 40-char base64 secret beside AWS words is AWS.
fn refine(class: NameClass, v: &[u8], _quoted: bool) -> NameClass {
    if class.kind == Kind::TokenAssignment && super::http::basic_blob_ok(v) {
        return NameClass {
            kind: Kind::HttpBasicAuth,
            ..class
        };
    }
    if class.kind == Kind::SecretAssignment
        && v.len() == 88
        && v.ends_with(b"==")
        && v.iter().all(|&b| super::text::is_b64(b))
    {
        return NameClass {
            kind: Kind::AzureStorageKey,
            ..class
        };
    }
    class
}

/// `primary_key` and `deterministic_key` under Rails'
/// `active_record_encryption:` (`rails credentials:show`): keys, although
/// `primary_key` elsewhere names a column.
fn rails_encryption_key(bytes: &[u8], s: usize, e: usize) -> Option<NameClass> {
    let name = &bytes[s..e];
    let keyed = name == b"primary_key" || name == b"deterministic_key";
    let above = &bytes[s.saturating_sub(200)..s];
    (keyed && find_ci(above, b"active_record_encryption").is_some()).then_some(NameClass {
        kind: Kind::SecretAssignment,
        strictness: Strictness::Random,
        priority: super::scan::priority::ASSIGN,
    })
}
