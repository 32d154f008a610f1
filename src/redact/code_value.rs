//! Values of a secret-named slot that are code or structure, not a
//! literal: a declared type (`pub const TOKEN_X: _bindgen_ty_7 = …`), another
//! variable's field (`colon2_token: node.colon2_token`), a match arm
//! (`TLS_PSK_WITH_NULL_SHA => 0x002c`), a typed number (`983551u32`), a date,
//! a format hole (`password: {err:?}`), a slug of words (`x-hello-world-64`),
//! a fragment glued to a template (`key: cache-v5-{{ checksum … }}`), a
//! dependency's version range (`"minipass": "^7.0.4"`), a prompt
//! (`getpass(' Confirm: ')`).
//! Crate sources are full of these, and each one read as a secret also hid
//! every other copy of the word in the text.

use super::code_type::{annotates, names_itself, path_goes_on, type_alias};
use super::operator::Op;
use super::value::Strictness;

/// Where a name and its value sit: `raw_s` where the name starts (with its
/// `-`/`.` lead), `s..e` the name, `vs..ve` the value.
pub(crate) struct Slot {
    pub(crate) raw_s: usize,
    pub(crate) s: usize,
    pub(crate) e: usize,
    pub(crate) vs: usize,
    pub(crate) ve: usize,
}

impl Slot {
    pub(crate) fn new(raw_s: usize, (s, e): (usize, usize), (vs, ve): (usize, usize)) -> Slot {
        Slot {
            raw_s,
            s,
            e,
            vs,
            ve,
        }
    }
}

/// Whether the value in `slot` is code, a type or structure rather than a
/// secret. `v` is the part of the value that is judged (its first line).
pub(crate) fn is_code(
    bytes: &[u8],
    slot: &Slot,
    v: &[u8],
    quoted: bool,
    op: Op,
    strictness: Strictness,
) -> bool {
    let Slot {
        raw_s,
        s,
        e,
        vs,
        ve,
    } = *slot;
    let name = &bytes[s..e];
    if (!quoted && op == Op::Assign && annotates(bytes, vs, ve))
        || names_itself(name, v)
        || type_alias(bytes, raw_s)
        || (!quoted && path_goes_on(bytes, ve))
    {
        return true;
    }
    if is_date(v) || is_size(v) || is_registry_path(v) || is_version_range(v) || is_prompt(v) {
        return true;
    }
    if !quoted && is_type_name(v) {
        return true;
    }
    if format_hole(v, bytes.get(ve)) || after_badge(bytes, raw_s) || contains(v, b"${") {
        return true;
    }
    if strictness != Strictness::Password
        && is_word_slug(v)
        && !super::phrase::word_slug_passphrase(name, v)
    {
        return true;
    }
    if match_arm(bytes, raw_s, e, vs) {
        return true;
    }
    if quoted {
        return false;
    }
    is_number_literal(v)
        || is_metavar_pair(v)
        || glued_template(bytes, ve)
        || (bytes[ve..].starts_with(b" = ") && type_like(v))
        || code_shaped(v)
        || refers_to_name(name, v)
        || declared_type(bytes, raw_s, vs, ve, v)
        || (is_ident_path(v) && (chained(bytes, ve) || declaration_head(bytes, raw_s)))
        || (is_ident_path(v) && operand(bytes, ve) && !shell_assignment(bytes, s, e, vs))
        || (name.eq_ignore_ascii_case(b"pass") && contains(&bytes[e..vs], b" to "))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `PASSWORD=x9 && make`, `export API_KEY=k2 || exit`: a shell assignment
/// (an upper-case name glued to `=` and its value), where `&&` and `||`
/// join commands rather than operands.
fn shell_assignment(bytes: &[u8], s: usize, e: usize, vs: usize) -> bool {
    vs == e + 1
        && bytes.get(e) == Some(&b'=')
        && bytes[s..e]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `parsedURL.username || …`, `base64.decodebytes(x)`: the value is an
/// operand or a callee in an expression.
fn operand(bytes: &[u8], ve: usize) -> bool {
    let rest = &bytes[ve..];
    rest.starts_with(b"(")
        || [&b" || "[..], b" && ", b" ?? ", b" ? ", b" + "]
            .iter()
            .any(|op| rest.starts_with(op))
}

/// Types a secret-named field is declared with, in schemas and models: the
/// value of `password: String!` (GraphQL), `db_password: SecretStr`
/// (pydantic), `Type: SecureString` (AWS SSM). No one's password is one of
/// these words.
const TYPE_NAMES: &[&str] = &[
    "String",
    "Boolean",
    "Bool",
    "Int",
    "Integer",
    "Float",
    "Double",
    "Str",
    "Bytes",
    "SecretStr",
    "SecretBytes",
    "EmailStr",
    "PostgresDsn",
    "MySQLDsn",
    "RedisDsn",
    "MongoDsn",
    "AmqpDsn",
    "KafkaDsn",
    "AnyUrl",
    "HttpUrl",
    "AnyHttpUrl",
    "SecureString",
    "StringList",
    "Password",
    "PasswordStr",
];

/// `String!`, `[String!]!`, `SecretStr`, `Optional[SecretStr]`: a declared
/// type ([`TYPE_NAMES`], or any capitalised name GraphQL marks non-null
/// with `!`), not a value.
fn is_type_name(v: &[u8]) -> bool {
    let mut t = v.trim_ascii();
    t = t.strip_suffix(b"!").unwrap_or(t);
    let non_null = t.len() < v.trim_ascii().len();
    if let Some(inner) = t.strip_prefix(b"[").and_then(|x| x.strip_suffix(b"]")) {
        t = inner.strip_suffix(b"!").unwrap_or(inner);
    } else if let Some(inner) = t
        .strip_prefix(b"Optional[")
        .and_then(|x| x.strip_suffix(b"]"))
    {
        t = inner;
    }
    let capitalised = t.first().is_some_and(u8::is_ascii_uppercase)
        && t.iter().all(|&b| b.is_ascii_alphanumeric());
    capitalised && (non_null || TYPE_NAMES.iter().any(|n| n.as_bytes() == t))
}

/// `^7.0.4`, `~3.1`, `>=1.2.0`: a dependency's version range.
fn is_version_range(v: &[u8]) -> bool {
    let body = v.trim_ascii_start();
    let ops = body.iter().take_while(|b| b"^~<>=".contains(b)).count();
    let body = &body[ops..];
    ops > 0
        && body.first().is_some_and(u8::is_ascii_digit)
        && body
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

/// `' Confirm: '`, `"Password: "`, `Enter token?`: the prompt a program
/// asks for the secret with.
fn is_prompt(v: &[u8]) -> bool {
    let t = v.trim_ascii();
    t.len() >= 3
        && t.len() < v.len()
        && matches!(t.last(), Some(b':' | b'?'))
        && t[..t.len() - 1]
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || b == b' ')
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `node.colon2_token`, `_bindgen_ty_7`, `Auth::Raw`: identifiers joined by
/// `.` or `::`, none starting with a digit.
fn is_ident_path(v: &[u8]) -> bool {
    !v.is_empty()
        && v.split(|&b| b == b'.' || b == b':').all(|seg| {
            seg.is_empty() || (!seg[0].is_ascii_digit() && seg.iter().all(|&b| is_ident_byte(b)))
        })
        && v.first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        && !v.ends_with(b".")
}

/// `983551u32`, `0x00a8`, `16384i32`, `1.5f64`: numbers as code writes them.
fn is_number_literal(v: &[u8]) -> bool {
    const SUFFIXES: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "ul", "ull", "ll", "l", "u",
    ];
    let lower = v.to_ascii_lowercase();
    let body = SUFFIXES
        .iter()
        .find_map(|s| lower.strip_suffix(s.as_bytes()))
        .unwrap_or(&lower);
    if let Some(hex) = body.strip_prefix(b"0x") {
        return (1..=18).contains(&hex.len())
            && hex.iter().all(|&b| b.is_ascii_hexdigit() || b == b'_');
    }
    body.len() < lower.len()
        && !body.is_empty()
        && body[0].is_ascii_digit()
        && body
            .iter()
            .all(|&b| b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// `1979-05-27`, `1979-05-27T07:32:00Z`, `2024-03-11 10:10:11+01:00`.
fn is_date(v: &[u8]) -> bool {
    let d = |i: usize| v.get(i).is_some_and(u8::is_ascii_digit);
    let date = v.len() >= 10
        && (0..4).all(d)
        && v[4] == b'-'
        && d(5)
        && d(6)
        && v[7] == b'-'
        && d(8)
        && d(9);
    date && v[10..]
        .iter()
        .all(|&b| b.is_ascii_digit() || b":.+-TZ ".contains(&b))
}

/// `32-bytes`, `**256 bits**`, `16 characters`: a size, said of a secret.
fn is_size(v: &[u8]) -> bool {
    let v = v.trim_ascii_start();
    let v = v.strip_prefix(b"**").unwrap_or(v);
    let v = v.strip_suffix(b"**").unwrap_or(v);
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit = v[digits..].strip_prefix(b"-").unwrap_or(&v[digits..]);
    let unit = unit.strip_prefix(b" ").unwrap_or(unit);
    digits > 0
        && [
            &b"byte"[..],
            b"bytes",
            b"bit",
            b"bits",
            b"chars",
            b"characters",
            b"digits",
        ]
        .iter()
        .any(|u| unit.eq_ignore_ascii_case(u))
}

/// `{err:?}`, `{0}`, `{name}`: a format string's hole, not its argument.
fn format_hole(v: &[u8], after: Option<&u8>) -> bool {
    let Some(rest) = v.strip_prefix(b"{") else {
        return false;
    };
    let rest = rest.strip_suffix(b"}").unwrap_or(rest);
    let closed = v.ends_with(b"}") || after == Some(&b'}');
    closed
        && rest.len() <= 32
        && rest
            .iter()
            .all(|&b| is_ident_byte(b) || b":?#.<>^+-".contains(&b))
}

/// A badge image's `?token=` (Codecov's graph token is printed in every
/// README that shows the badge).
fn after_badge(bytes: &[u8], raw_s: usize) -> bool {
    bytes[..raw_s].ends_with(b".svg?")
}

/// `x-hello-world-64`, `m2m-access-token-12345`, `project-cache-v5-`: words
/// joined by dashes read as a name or a fixture, never as a generated key.
fn is_word_slug(v: &[u8]) -> bool {
    let v = v.strip_suffix(b"!").unwrap_or(v);
    let segs: Vec<&[u8]> = v.split(|&b| b == b'-').collect();
    if segs.len() < 3 {
        return false;
    }
    let word = |s: &[u8]| {
        s.len() >= 2
            && s.iter().all(u8::is_ascii_lowercase)
            && s.iter().any(|b| b"aeiouy".contains(b))
    };
    let ok = |s: &[u8]| {
        s.is_empty()
            || word(s)
            || s.iter().all(u8::is_ascii_digit)
            || (s.len() <= 3
                && s.iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    segs.iter().all(|s| ok(s)) && segs.iter().filter(|s| s.len() >= 4 && word(s)).count() >= 2
}

/// `TLS_PSK_WITH_NULL_SHA => 0x002c`, `Self::PasswordInvalid => write!(…)`,
/// `ResumptionPskBinderKey => b"res binder"`: an arm of a Rust `match`,
/// named by an enum variant or a constant path. Perl's and PHP's `=>` take
/// a lower-case or quoted key, which stays a name.
fn match_arm(bytes: &[u8], raw_s: usize, e: usize, vs: usize) -> bool {
    if !bytes[e..vs].windows(2).any(|w| w == b"=>") {
        return false;
    }
    let name = &bytes[raw_s..e];
    if raw_s > 0 && matches!(bytes[raw_s - 1], b'"' | b'\'' | b':') {
        return false;
    }
    let variant = name.first().is_some_and(u8::is_ascii_uppercase)
        && name.iter().all(|&b| is_ident_byte(b))
        && name.iter().any(u8::is_ascii_lowercase);
    let constant = name
        .iter()
        .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && name.contains(&b'_');
    variant || constant || bytes[..raw_s].ends_with(b"::")
}

/// `fifo:PATH`, `file:NAME`: a syntax with a metavariable.
fn is_metavar_pair(v: &[u8]) -> bool {
    let Some(c) = v.iter().position(|&b| b == b':') else {
        return false;
    };
    let (head, tail) = (&v[..c], &v[c + 1..]);
    !head.is_empty()
        && head.iter().all(u8::is_ascii_lowercase)
        && tail.len() >= 3
        && tail.iter().all(|&b| b.is_ascii_uppercase() || b == b'_')
}

/// `cache-v5-<< parameters.x >>`, `app-{{ checksum }}`: a fragment that a
/// template expansion completes.
fn glued_template(bytes: &[u8], ve: usize) -> bool {
    let rest = &bytes[ve..];
    [&b"<<"[..], b"{{", b"${", b"#{", b"%{", b"<%"]
        .iter()
        .any(|t| rest.starts_with(t))
}

/// `SOFTWARE\Microsoft\VisualStudio\SxS\VC7`: a Windows registry key.
fn is_registry_path(v: &[u8]) -> bool {
    ["HKEY_", "HKLM\\", "HKCU\\", "SOFTWARE\\", "SYSTEM\\"]
        .iter()
        .any(|p| v.len() > p.len() && v[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
}

/// `write!(f`, `format!(`, `Auth::Raw(`, `&[&str]`: a macro, a call left
/// open, a slice type.
fn code_shaped(v: &[u8]) -> bool {
    if let Some(bang) = v.windows(2).position(|w| w == b"!(" || w == b"![") {
        return bang > 0 && v[..bang].iter().all(|&b| is_ident_byte(b));
    }
    if let Some(head) = v.strip_suffix(b"(") {
        return is_ident_path(head);
    }
    // `z.string().min(12`, `Joi.string().required(`: a method called on a
    // dotted path (a schema validator, a builder) — the value a form's
    // `password` field gets in code. A method name starts lower case;
    // `My.Secret(2024)` does not read as one.
    if let Some(open) = v.iter().position(|&b| b == b'(') {
        let callee = &v[..open];
        let method = callee.rsplit(|&b| b == b'.').next().unwrap_or(callee);
        if callee.contains(&b'.')
            && is_ident_path(callee)
            && method.first().is_some_and(u8::is_ascii_lowercase)
        {
            return true;
        }
    }
    if v.starts_with(b"&[") || v.starts_with(b"&::") {
        return true;
    }
    // `&client_hello.preshared_key_offer`: a borrow of a field.
    v.strip_prefix(b"&")
        .is_some_and(|place| place.contains(&b'.') && is_ident_path(place))
}

/// `colon2_token: node.colon2_token`, `&self.dot2_token`, `psk_offer.binders
/// = psk_offer`, `generate_private_key: x25519_generate_private_key`: the
/// value names the same variable or field as the name.
fn refers_to_name(name: &[u8], v: &[u8]) -> bool {
    let v = v.strip_prefix(b"&mut ").unwrap_or(v);
    let v = v
        .strip_prefix(b"&")
        .or_else(|| v.strip_prefix(b"*"))
        .unwrap_or(v);
    if !is_ident_path(v) {
        return false;
    }
    let last = |x: &[u8]| -> Vec<u8> {
        x.rsplit(|&b| b == b'.' || b == b':')
            .next()
            .unwrap_or(x)
            .to_vec()
    };
    let (nl, vl) = (last(name), last(v));
    if nl.len() < 3 {
        return false;
    }
    vl == nl
        || name.split(|&b| b == b'.').any(|seg| seg == v)
        || (vl.len() > nl.len() && vl.ends_with(&nl) && vl[vl.len() - nl.len() - 1] == b'_')
}

/// `_bindgen_ty_7`, `HKDF-Extract`, `Option`: named the way people name
/// things (no run of capitals inside mixed case, few digits), unlike a
/// generated string.
fn type_like(v: &[u8]) -> bool {
    v.split(|&b| b == b'.').all(super::value::identifier_like)
        && v.iter().filter(|b| b.is_ascii_digit()).count() <= 2
}

/// `pub const IFLA_INET6_TOKEN: _bindgen_ty_7 = …`, `pub credentials:
/// MI_UserCredentials_0,`, `|token: CancellationToken|`, `secret:
/// Zeroizing<PayloadU8>,`, `trait X: Token_Impl {`: an identifier after a
/// single `:` in a declaration is its type.
fn declared_type(bytes: &[u8], raw_s: usize, vs: usize, ve: usize, v: &[u8]) -> bool {
    let closure = v.strip_suffix(b"|");
    if !is_ident_path(closure.unwrap_or(v)) || !single_colon_before(bytes, vs) {
        return false;
    }
    if closure.is_some() || bytes.get(ve) == Some(&b'<') || bytes.get(ve) == Some(&b'|') {
        return true;
    }
    let mut i = ve;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    let next = bytes.get(i).copied();
    let assigned = next == Some(b'=') && !matches!(bytes.get(i + 1), Some(b'=' | b'>'));
    let punct = matches!(next, Some(b',' | b')' | b';' | b'{' | b'+' | b'>'));
    (assigned && type_like(v))
        || (punct && (declaration_head(bytes, raw_s) || before_is(bytes, raw_s, b"|(")))
}

fn single_colon_before(bytes: &[u8], vs: usize) -> bool {
    let mut i = vs;
    while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i > 0 && bytes[i - 1] == b':' && (i < 2 || bytes[i - 2] != b':')
}

/// The byte before the name (spaces skipped) is one of `set`.
fn before_is(bytes: &[u8], raw_s: usize, set: &[u8]) -> bool {
    let mut i = raw_s;
    while i > 0 && bytes[i - 1] == b' ' {
        i -= 1;
    }
    i > 0 && set.contains(&bytes[i - 1])
}

/// The line up to the name opens a declaration in code (`let`, `pub
/// const`, `fn`, `trait`, …), where an unquoted value is an expression: it
/// starts with such a keyword, and only keywords or a parameter list come
/// before the name (`let me share the token: …` is prose).
fn declaration_head(bytes: &[u8], raw_s: usize) -> bool {
    const KEYWORDS: &[&[u8]] = &[
        b"let", b"pub", b"const", b"static", b"fn", b"trait", b"struct", b"impl", b"var", b"val",
        b"unsafe", b"async", b"extern", b"mut", b"crate", b"super", b"in",
    ];
    let ls = super::text::line_start(bytes, raw_s);
    let head = &bytes[ls.max(raw_s.saturating_sub(160))..raw_s];
    let mut words = head
        .split(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .filter(|w| !w.is_empty());
    // A shell's `export NAME=…` is no declaration; TypeScript's `export
    // const` is, by its second word.
    let first = match words.next() {
        Some(b"export") => words.next(),
        w => w,
    };
    first.is_some_and(|f| KEYWORDS[..12].contains(&f))
        && (head.iter().any(|b| b"(<|".contains(b)) || words.all(|w| KEYWORDS.contains(&w)))
}

/// `offered_psk: client_hello` with `.preshared_key_offer` on the next
/// line: a method chain goes on.
fn chained(bytes: &[u8], ve: usize) -> bool {
    let mut i = ve;
    let mut newline = false;
    while i < bytes.len() && i < ve + 64 && bytes[i].is_ascii_whitespace() {
        newline |= bytes[i] == b'\n';
        i += 1;
    }
    newline && bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(|&b| is_ident_byte(b))
}
