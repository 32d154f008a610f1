//! How a name is marked up around its operator, where that decides whether
//! `name: value` assigns: bold labels (`**Password:** x`, `<b>Token</b>: x`),
//! XML elements (`<password>x</password>`, not a `<password>` placeholder),
//! Java-properties lines glued without spaces (`db.password:x`), fields of
//! a struct printed by Go (`{User:app Password:x}`), and a name and its value
//! in sibling fields (`name: X` / `value: …`, Hadoop's `<name>`/`<value>`),
//! or in a child field (`DB_PASSWORD:` / `  value: …`, ARM parameter files'
//! `"adminPassword": { "value": "…" }`).

use super::line_context::key_starts_line;
use super::text::near_line_start;

/// Longest parenthesised qualifier read between a name and its colon.
const MAX_QUALIFIER: usize = 32;

/// At `k`, after a name and a blank: a qualifier in parentheses that a colon
/// follows (`password (prod): X`, `**Password (staging DB):** X`); where the
/// colon is. Only words inside and only with the colon right after, so a
/// call (`password(x)`) or Python's `def password(self):` (no blank) is
/// never read so.
pub(crate) fn qualifier_end(bytes: &[u8], k: usize) -> Option<usize> {
    if bytes.get(k) != Some(&b'(') {
        return None;
    }
    let window = &bytes[k + 1..(k + 1 + MAX_QUALIFIER).min(bytes.len())];
    let close = window.iter().position(|&b| b == b')')?;
    let inner = &window[..close];
    let words = inner
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_' | b'.' | b'/'));
    let colon = k + 2 + close;
    (words && inner.iter().any(u8::is_ascii_alphabetic) && bytes.get(colon) == Some(&b':'))
        .then_some(colon)
}

/// Whether `</name` closes the element named `bytes[raw_s..e]` after `from`.
pub(crate) fn closed_tag(bytes: &[u8], raw_s: usize, e: usize, from: usize) -> bool {
    let name = &bytes[raw_s..e];
    let hi = (from + 1024).min(bytes.len());
    bytes[from..hi]
        .windows(name.len() + 2)
        .any(|w| w.starts_with(b"</") && w[2..].eq_ignore_ascii_case(name))
}

/// `<password>X</password>`, also with attributes (`<password
/// encrypted="false">`) or pretty-printed with the text on a line of its
/// own: where the element's text starts, if the element is closed.
pub(crate) fn element_text(bytes: &[u8], raw_s: usize, e: usize) -> Option<usize> {
    if raw_s == 0 || bytes[raw_s - 1] != b'<' {
        return None;
    }
    let le = super::text::line_end(bytes, e).min(e + 256);
    let gt = e + bytes[e..le].iter().position(|&b| b == b'>')?;
    let attrs = &bytes[e..gt];
    let quotes = attrs.iter().filter(|&&b| b == b'"').count();
    let attributes_ok = attrs.first() == Some(&b' ')
        && attrs.contains(&b'=')
        && !attrs.ends_with(b"/")
        && quotes % 2 == 0;
    if !attrs.is_empty() && !attributes_ok {
        return None;
    }
    if !closed_tag(bytes, raw_s, e, gt + 1) {
        return None;
    }
    let mut v = gt + 1;
    if matches!(bytes.get(v), Some(b'\n' | b'\r')) {
        let hi = (v + 64).min(bytes.len());
        while v < hi && bytes[v].is_ascii_whitespace() {
            v += 1;
        }
    }
    Some(v)
}

/// `<property name="connection.password">x</property>` (Hibernate),
/// `<string name="api_token">x</string>` (Android): the name in a `name`
/// attribute, the value the element's text, closed on the same line.
pub(crate) fn named_element(bytes: &[u8], raw_s: usize, from: usize) -> bool {
    // Java's XML properties name an entry with `key` (`<entry key="db.password">`).
    let head = &bytes[raw_s.saturating_sub(6)..raw_s];
    let attr = head.len() == 6
        && (head[..5].eq_ignore_ascii_case(b"name=") || head[1..5].eq_ignore_ascii_case(b"key="))
        && matches!(head[5], b'"' | b'\'');
    let line = &bytes[from..super::text::line_end(bytes, from)];
    attr && line.windows(2).any(|w| w == b"</")
}

/// A property list's `<key>NAME</key>` (the name at `raw_s`, its close at
/// `from`): where the text of the `<string>` element after it starts.
pub(crate) fn plist_value(bytes: &[u8], raw_s: usize, from: usize) -> Option<usize> {
    if !bytes[..raw_s].ends_with(b"<key>") || !bytes[from..].starts_with(b"</key>") {
        return None;
    }
    let mut i = from + b"</key>".len();
    // The pair is written on two lines, indented, or on one.
    let hi = (i + 64).min(bytes.len());
    while i < hi && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    bytes[i..]
        .starts_with(b"<string>")
        .then_some(i + b"<string>".len())
}

/// Hadoop's and Hive's configuration XML: `<name>NAME</name>` and the
/// `<value>` element after it (on the same line or the next). Returns where
/// the name ends for reading it, without the storage account an Azure key
/// is for (`fs.azure.account.key.ACCOUNT.blob.core.windows.net`), and the
/// value's text.
pub(crate) fn xml_property(bytes: &[u8], raw_s: usize, e: usize) -> Option<(usize, usize, usize)> {
    if !bytes[..raw_s].ends_with(b"<name>") || !bytes[e..].starts_with(b"</name>") {
        return None;
    }
    let mut i = e + b"</name>".len();
    let hi = (i + 64).min(bytes.len());
    while i < hi && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    let vs = i + b"<value>".len();
    if !bytes[i..].starts_with(b"<value>") {
        return None;
    }
    let close = bytes[vs..(vs + 1024).min(bytes.len())]
        .windows(8)
        .position(|w| w == b"</value>")?;
    let (mut vs, mut ve) = (vs, vs + close);
    // `<value><![CDATA[…]]></value>`.
    if bytes[vs..ve].starts_with(b"<![CDATA[") && bytes[vs..ve].ends_with(b"]]>") {
        (vs, ve) = (vs + 9, ve - 3);
    }
    let value = &bytes[vs..ve.max(vs)];
    if value.is_empty() || value.iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    let name = &bytes[raw_s..e];
    let mut ne = e;
    if let Some(host) = super::text::find_ci(name, b".core.windows.net") {
        // `.ACCOUNT.SERVICE` before the endpoint's suffix.
        let head = &name[..host];
        let service = head.iter().rposition(|&b| b == b'.')?;
        ne = raw_s + head[..service].iter().rposition(|&b| b == b'.')?;
    }
    Some((ne, vs, ve))
}

/// `DB_PASSWORD:Xk9f…`, `relay.api.key:Zq8m…` (Java properties, `heroku
/// config` pasted without spaces): a key that starts its line, glued to a
/// value that runs to the line's end without a space, a `/` or another `:`
/// (so `secret:prod/db`, `host:port` and image tags stay what they are).
pub(crate) fn properties_line(bytes: &[u8], raw_s: usize, v: usize) -> bool {
    // Bounded reads both ways: a long line of glued colons stays linear.
    let hi = (v + MAX_PROPERTY).min(bytes.len());
    let Some(value) = bytes[v..hi]
        .split(|&b| b == b'\n')
        .next()
        .filter(|value| v + value.len() < hi || hi == bytes.len())
    else {
        return false;
    };
    let value = value.strip_suffix(b"\r").unwrap_or(value);
    value.len() >= 8
        && !value
            .iter()
            .any(|&b| matches!(b, b' ' | b'\t' | b'/' | b':'))
        && near_line_start(bytes, raw_s, 64).is_some()
        && key_starts_line(bytes, raw_s)
}

/// Longest glued `key:value` value read.
const MAX_PROPERTY: usize = 256;

/// Markdown and HTML emphasis that may wrap a label, opening and closing.
const EMPHASIS: &[(&[u8], &[u8])] = &[
    (b"**", b"**"),
    (b"*", b"*"),
    (b"<b>", b"</b>"),
    (b"<strong>", b"</strong>"),
    (b"<em>", b"</em>"),
];

/// The closing mark of the emphasis opened before the label whose last
/// word starts at `raw_s` (`**API key:**`: a few words may come first).
pub(crate) fn emphasis_close(bytes: &[u8], raw_s: usize) -> Option<&'static [u8]> {
    let mut s = raw_s;
    while s > 0
        && raw_s - s < 32
        && (bytes[s - 1].is_ascii_alphanumeric() || matches!(bytes[s - 1], b' ' | b'_' | b'-'))
    {
        s -= 1;
    }
    let head = &bytes[..s];
    EMPHASIS
        .iter()
        .find(|(open, _)| {
            head.len() >= open.len() && head[head.len() - open.len()..].eq_ignore_ascii_case(open)
        })
        .map(|&(_, close)| close)
}

/// A field of a struct printed by Go's `%+v` (`&Config{Host:db
/// User:app Password:Xk9f… SSLMode:require}`): the name right after the
/// opening brace, or after a space that follows another glued `Field:value`
/// pair, inside a brace opened earlier on the line.
pub(crate) fn struct_field(bytes: &[u8], raw_s: usize) -> bool {
    let lo = raw_s.saturating_sub(MAX_STRUCT_HEAD);
    let head = &bytes[lo..raw_s];
    let Some(open) = head.iter().rposition(|&b| b == b'{') else {
        return false;
    };
    let inside = &head[open + 1..];
    if inside
        .iter()
        .any(|&b| matches!(b, b'}' | b'\n' | b'"' | b'='))
    {
        return false;
    }
    // Every space-separated piece before the name is itself `Field:value`.
    inside.is_empty()
        || (inside.ends_with(b" ")
            && inside
                .split(|&b| b == b' ')
                .filter(|p| !p.is_empty())
                .all(|p| {
                    p.iter().position(|&b| b == b':').is_some_and(|c| {
                        c > 0 && c + 1 < p.len() && p[..c].iter().all(u8::is_ascii_alphanumeric)
                    })
                }))
}

/// How far back the opening brace of a printed struct is looked for.
const MAX_STRUCT_HEAD: usize = 256;

/// `name: DB_PASSWORD` … `value: x` (Kubernetes env, ECS, GitHub API JSON):
/// returns where the value starts.
pub(crate) fn name_value_form(bytes: &[u8], raw_s: usize, e: usize) -> Option<usize> {
    let ls = raw_s.saturating_sub(80);
    let mut p = raw_s;
    // A parameter path before the name: `"Name": "/prod/db/password"`.
    while p > ls
        && (bytes[p - 1].is_ascii_alphanumeric()
            || matches!(bytes[p - 1], b'/' | b'.' | b'_' | b'-'))
    {
        p -= 1;
    }
    if p > ls && matches!(bytes[p - 1], b'"' | b'\'') {
        p -= 1;
    }
    while p > ls && bytes[p - 1] == b' ' {
        p -= 1;
    }
    let head = &bytes[ls..p];
    let key_ok = [
        &b"name:"[..],
        b"name\":",
        b"name=",
        b"name':",
        b"Name\":",
        b" key=",
        // Postman and Insomnia variables: `{"key": "apiKey", "value": "…"}`.
        b"\"key\":",
    ]
    .iter()
    .any(|k| head.len() >= k.len() && head[head.len() - k.len()..].eq_ignore_ascii_case(k));
    if !key_ok {
        return None;
    }
    let hi = (e + 200).min(bytes.len());
    let win = &bytes[e..hi];
    let at = super::text::find_ci(win, b"value")?;
    let mut i = e + at + 5;
    if e + at > 0 && bytes[e + at - 1].is_ascii_alphanumeric() {
        return None;
    }
    if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
        i += 1;
    }
    i = super::operator::skip_blank(bytes, i);
    if i < bytes.len() && matches!(bytes[i], b':' | b'=') {
        Some(super::operator::skip_blank(bytes, i + 1))
    } else {
        None
    }
}

/// Most blank bytes between a key's `{` or line end and its child `value`.
const MAX_CHILD_GAP: usize = 24;

/// A secret-named key whose only child is its `value` (YAML `DB_PASSWORD:`
/// then `  value: |-` on the next, deeper line; Azure ARM parameter files'
/// `"adminPassword": { "value": "…" }`): returns where the value starts.
/// The key must start its line and its `:` end it (or open an object), and
/// `value` must be the first thing inside, so a mapping with other fields
/// first (`password: {type: string, value: …}`) is left to its own rules.
pub(crate) fn child_value_form(bytes: &[u8], raw_s: usize, e: usize) -> Option<usize> {
    if !key_starts_line(bytes, raw_s) {
        return None;
    }
    let mut i = e;
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    i = super::operator::skip_blank(bytes, i + 1);
    let brace = bytes.get(i) == Some(&b'{');
    i += usize::from(brace);
    let gap_end = (i + MAX_CHILD_GAP).min(bytes.len());
    let gap = bytes[i..gap_end]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let newlines = bytes[i..i + gap].iter().filter(|&&b| b == b'\n').count();
    // YAML nests the child on the next line, deeper than the key; JSON may
    // keep it on the brace's line.
    if newlines > 1 || (!brace && newlines == 0) {
        return None;
    }
    if !brace {
        let key_indent = raw_s - super::text::line_start(bytes, raw_s);
        let child_indent = bytes[i..i + gap]
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if child_indent <= key_indent {
            return None;
        }
    }
    i += gap;
    let quote = matches!(bytes.get(i), Some(b'"' | b'\''));
    i += usize::from(quote);
    if !bytes.get(i..i + 5)?.eq_ignore_ascii_case(b"value") {
        return None;
    }
    i += 5;
    if quote {
        if !matches!(bytes.get(i), Some(b'"' | b'\'')) {
            return None;
        }
        i += 1;
    }
    i = super::operator::skip_blank(bytes, i);
    (bytes.get(i) == Some(&b':')).then(|| super::operator::skip_blank(bytes, i + 1))
}
