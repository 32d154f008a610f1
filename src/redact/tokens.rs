//! Self-identifying tokens: every kind whose public format carries a literal
//! prefix or marker (`ghp_`, `AKIA`, `xoxb-`, `.atlasv1.`, `Q~`, …).
//!
//! Each rule names the anchors that the shared automaton looks for, how far
//! before the anchor the token may start, its maximum length, a verifying
//! regex run only on that small window, and a check of the random part
//! (entropy, placeholders, checksums, base64 payloads). The table itself is in
//! [`super::token_rules`]; this file compiles and runs it.

use regex::bytes::{Regex, RegexBuilder};

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{is_alnum, is_b64, is_word_dash};
pub(crate) use super::token_rules::RULES;
use super::token_rules::{glued_by_underscore, glued_token_ok};
use super::words::JWT_IO_EXAMPLE_SIG;

/// What a matched token must satisfy beyond its regex.
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// The random part (after `skip` bytes) must not be a placeholder / mask.
    NotFake { skip: usize },
    /// As `NotFake`, and low entropy is only allowed with a valid checksum.
    GithubChecksum,
    /// Discord: the first segment must be base64 of a decimal user id.
    DiscordId,
    /// JWT: header must decode to JSON with `alg`, and not be the jwt.io example.
    Jwt,
    /// Slack / Discord webhook: the last path segment must look random.
    WebhookSecret,
}

/// A follow-up search after a token is accepted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    None,
    /// An AWS access key id: a 40-char secret may follow shortly after.
    AwsPair,
    /// A Twilio account SID (not itself secret): a 32-hex auth token may follow.
    TwilioAccount,
    /// A Twilio API key SID: its 32-char API secret may follow.
    TwilioKey,
}

/// One self-identifying token format.
pub(crate) struct TokenRule {
    pub kind: Kind,
    /// Literals the automaton reports (matched ASCII case-insensitively; the
    /// regex then enforces the real case).
    pub anchors: &'static [&'static str],
    /// How many bytes before the anchor the token may start.
    pub back: usize,
    /// Longest token accepted, in bytes.
    pub max_len: usize,
    /// Verifying regex (ASCII, no look-around); group 1, when present, is the
    /// secret part and the only part replaced.
    pub pattern: &'static str,
    /// Bytes that may not touch the token on the left or right (besides
    /// `[A-Za-z0-9]`, which never may).
    pub edge: fn(u8) -> bool,
    pub check: Check,
    pub after: After,
    /// Fails fast on the byte at the anchor before any regex runs.
    pub quick: Option<fn(&[u8], usize) -> bool>,
    /// Replaces only the secret group (`AccountKey=<secret>`).
    pub secret_group: bool,
    /// The token kind is not itself a secret (used only for pairing).
    pub report: bool,
    /// `(prefix, full)`: a match shorter than `full` bytes is a token cut
    /// short (a truncated paste, a terminal that scrolled); it is accepted
    /// only when its part after `prefix` bytes still looks generated.
    pub short: Option<(usize, usize)>,
}

/// The compiled regexes, one per rule, in rule order.
pub(crate) struct Compiled {
    pub(super) regexes: Vec<Regex>,
}

impl Compiled {
    /// Compiles every rule's regex.
    ///
    /// # Panics
    /// Never on the shipped table: a unit test compiles every rule.
    pub(crate) fn build() -> Compiled {
        let regexes = RULES
            .iter()
            .map(|r| {
                RegexBuilder::new(r.pattern)
                    .unicode(false)
                    .build()
                    .unwrap_or_else(|e| {
                        panic!("built-in token rule {:?} does not compile: {e}", r.kind)
                    })
            })
            .collect();
        Compiled { regexes }
    }
}

/// Verifies rule `idx` around the anchor found at `start..end`.
pub(crate) fn verify(scan: &mut Scan<'_>, rules: &Compiled, idx: usize, start: usize, _end: usize) {
    let Some(rule) = RULES.get(idx) else { return };
    let bytes = scan.bytes;
    let Some((ms, me, group)) = accept(rule, &rules.regexes[idx], bytes, start) else {
        return;
    };
    let (ss, mut se) = group.unwrap_or((ms, me));
    if se == me {
        se = super::hard_wrap::wrapped_end(rules, rule, bytes, ms, me);
    }
    if rule.report {
        scan.push(ss, se, rule.kind, priority::TOKEN);
    }
    match rule.after {
        After::None => {}
        After::AwsPair => pair_after(
            scan,
            me,
            160,
            40,
            40,
            is_aws_secret_byte,
            Kind::AwsSecretAccessKey,
        ),
        After::TwilioAccount => pair_after(
            scan,
            me,
            80,
            32,
            32,
            |b| b.is_ascii_hexdigit(),
            Kind::TwilioAuthToken,
        ),
        After::TwilioKey => pair_after(scan, me, 80, 32, 32, is_alnum, Kind::TwilioApiKey),
    }
}

/// A byte range `(start, end)`.
pub(super) type Span = (usize, usize);

/// The token rule `rule` (verifying regex `re`) accepts around the anchor at
/// `start`, as `(start, end, secret group)`, or `None`: the regex, the edges,
/// the rule's check and the cut-short check all hold.
pub(super) fn accept(
    rule: &TokenRule,
    re: &Regex,
    bytes: &[u8],
    start: usize,
) -> Option<(usize, usize, Option<Span>)> {
    if let Some(q) = rule.quick
        && !q(bytes, start)
    {
        return None;
    }
    let glued = rule.back == 0 && glued_by_underscore(rule, bytes, start);
    if rule.back == 0 && !glued && left_blocked(rule, bytes, start) {
        return None;
    }
    let lo = start.saturating_sub(rule.back);
    let hi = (start + rule.max_len + 1).min(bytes.len());
    let window = &bytes[lo..hi];
    // The first match that covers the anchor; earlier matches in the window
    // belong to other anchors. Plain `find` is cheaper than captures, so
    // captures are only taken for rules with a secret group.
    let covers = |s: usize, e: usize| lo + s <= start && start < lo + e;
    let (ms, me, group) = if rule.secret_group {
        let caps = re
            .captures_iter(window)
            .find(|c| c.get(0).is_some_and(|m| covers(m.start(), m.end())))?;
        let (m, g) = (caps.get(0)?, caps.get(1));
        (
            lo + m.start(),
            lo + m.end(),
            g.map(|g| (lo + g.start(), lo + g.end())),
        )
    } else {
        let m = re.find_iter(window).find(|m| covers(m.start(), m.end()))?;
        (lo + m.start(), lo + m.end(), None)
    };
    if left_blocked(rule, bytes, ms) && !telegram_bot_prefix(rule, bytes, ms) && !glued {
        return None;
    }
    if me < bytes.len()
        && (is_alnum(bytes[me]) || ((rule.edge)(bytes[me]) && !sentence_stop(bytes, me)))
    {
        return None;
    }
    let token = &bytes[ms..me];
    if !passes(rule.check, token) || (glued && !glued_token_ok(rule, token)) {
        return None;
    }
    if let Some((prefix, full)) = rule.short
        && token.len() < full
        && !cut_short_ok(&token[prefix.min(token.len())..])
    {
        return None;
    }
    Some((ms, me, group))
}

/// A byte that may not stand right before a token: a word byte always; for
/// tokens found by looking back from a marker (`Q~`, `.atlasv1.`), also the
/// separators their bodies use, so we never start inside a longer run.
/// (`=`, `:`, `/`, quotes and spaces always may: `KEY=<token>`.)
///
/// A percent escape or a terminal colour code ending right before the
/// token touches it without being part of it.
fn left_blocked(rule: &TokenRule, bytes: &[u8], at: usize) -> bool {
    let Some(&b) = at.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return false;
    };
    (is_alnum(b) || b == b'_' || (rule.back > 0 && matches!(b, b'-' | b'.' | b'~')))
        && !after_percent_escape(bytes, at)
        && !after_colour_code(bytes, at)
}

/// A percent escape just before `ms` (`%3Dghp_…` in an encoded URL): its
/// last hex digit touches the token but is not part of it.
fn after_percent_escape(bytes: &[u8], ms: usize) -> bool {
    ms >= 3
        && bytes[ms - 3] == b'%'
        && bytes[ms - 2].is_ascii_hexdigit()
        && bytes[ms - 1].is_ascii_hexdigit()
}

/// A terminal colour code just before `ms` (`\x1b[32mghp_…` in a coloured
/// transcript): its final `m` touches the token but is not part of it.
fn after_colour_code(bytes: &[u8], ms: usize) -> bool {
    if ms < 3 || bytes[ms - 1] != b'm' {
        return false;
    }
    let mut i = ms - 1;
    while i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b';') && ms - i < 16 {
        i -= 1;
    }
    i >= 2 && bytes[i - 1] == b'[' && bytes[i - 2] == 0x1b
}

/// A full stop that ends a sentence, not a token (`… is wpg3Q~…1D3e.`):
/// nothing of a token follows it.
fn sentence_stop(bytes: &[u8], at: usize) -> bool {
    // An ellipsis after a token (`…h8AJoPmogh...`) ends it as a full stop does.
    let ellipsis =
        bytes[at..].starts_with(b"...") && bytes.get(at + 3).is_none_or(|&b| !is_alnum(b));
    bytes[at] == b'.'
        && (ellipsis
            || bytes.get(at + 1).is_none_or(|&b| {
                !(is_alnum(b) || matches!(b, b'_' | b'-' | b'~' | b'.' | b'+' | b'/' | b'='))
            }))
}

/// `api.telegram.org/bot<token>`: the token follows the letters `bot`.
fn telegram_bot_prefix(rule: &TokenRule, bytes: &[u8], ms: usize) -> bool {
    matches!(rule.kind, Kind::TelegramBotToken)
        && ms >= 3
        && bytes[ms - 3..ms].eq_ignore_ascii_case(b"bot")
}

fn is_aws_secret_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

/// Looks within `reach` bytes after `from` for a standalone run of `min..=max`
/// bytes of `class` that looks random, and records it as `kind`.
fn pair_after(
    scan: &mut Scan<'_>,
    from: usize,
    reach: usize,
    min: usize,
    max: usize,
    class: fn(u8) -> bool,
    kind: Kind,
) {
    let bytes = scan.bytes;
    let hi = (from + reach).min(bytes.len());
    let mut i = from;
    while i < hi {
        if !class(bytes[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < bytes.len() && class(bytes[i]) {
            i += 1;
        }
        let run = &bytes[s..i];
        let touching = |b: u8| is_b64(b) || b == b'-' || b == b'_';
        let free = (s == 0 || !touching(bytes[s - 1])) && (i == bytes.len() || !touching(bytes[i]));
        if free && run.len() >= min && run.len() <= max && looks_random(run) {
            scan.push(s, i, kind, priority::NAMED);
            return;
        }
    }
}

/// The visible part of a token cut short: long enough, letters and digits,
/// high entropy, no placeholder or mask.
fn cut_short_ok(body: &[u8]) -> bool {
    let p = super::text::Profile::of(body);
    body.len() >= 12
        && p.digit > 0
        && p.lower + p.upper > 0
        && super::text::entropy(body) >= 3.0
        && !super::value::is_token_body_fake(body)
}

/// Mixed character classes and high entropy: a generated secret, not a word or digest.
fn looks_random(run: &[u8]) -> bool {
    let p = super::text::Profile::of(run);
    let hex_lower = run
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    (p.alnum_classes() == 3 || (hex_lower && p.digit > 0 && p.lower > 0))
        && super::text::entropy(run) >= 3.2
        && !super::value::is_token_body_fake(run)
}

fn passes(check: Check, token: &[u8]) -> bool {
    match check {
        Check::NotFake { skip } => {
            !super::value::is_token_body_fake(&token[skip.min(token.len())..])
        }
        Check::GithubChecksum => github_ok(token),
        Check::DiscordId => discord_ok(token),
        Check::Jwt => jwt_ok(token),
        Check::WebhookSecret => {
            let last = token
                .rsplit(|&b| b == b'/')
                .find(|s| !s.is_empty())
                .unwrap_or(b"");
            last.len() >= 16
                && !super::value::is_token_body_fake(last)
                && super::text::entropy(last) >= 3.0
        }
    }
}

/// GitHub tokens end in a base62 CRC32 of the random part. A valid checksum
/// proves a token even if it looks regular; without one we fall back to entropy.
fn github_ok(token: &[u8]) -> bool {
    let body = match token.iter().position(|&b| b == b'_') {
        Some(i) => &token[i + 1..],
        None => token,
    };
    if body.len() == 36 && crc_matches(&body[..30], &body[30..]) {
        return true;
    }
    !super::value::is_token_body_fake(body) && super::text::entropy(body) >= 3.0
}

fn crc_matches(random: &[u8], check: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = crc32(random);
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    digits == check
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn discord_ok(token: &[u8]) -> bool {
    let first = token.split(|&b| b == b'.').next().unwrap_or(b"");
    match super::text::b64_decode(first) {
        Some(id) => (15..=21).contains(&id.len()) && id.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

fn jwt_ok(token: &[u8]) -> bool {
    let mut parts = token.split(|&b| b == b'.');
    let header = parts.next().unwrap_or(b"");
    let _payload = parts.next();
    let sig = parts.next().unwrap_or(b"");
    if sig == JWT_IO_EXAMPLE_SIG || (!sig.is_empty() && sig.iter().all(|&b| b == sig[0])) {
        return false;
    }
    match super::text::b64_decode(header) {
        Some(h) => h.starts_with(b"{") && super::text::contains_ci(&h, b"\"alg\""),
        None => false,
    }
}

/// Edge class: only `[A-Za-z0-9]` may not touch (plus `_`).
pub(crate) fn edge_word(b: u8) -> bool {
    b == b'_'
}

/// Edge class for tokens whose body contains `-`: `_` and `-` may not touch.
pub(crate) fn edge_word_dash(b: u8) -> bool {
    is_word_dash(b)
}

/// Edge class for base64 bodies: `+ / = _ -` may not touch.
pub(crate) fn edge_b64(b: u8) -> bool {
    is_b64(b) || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_before_an_ellipsis_is_whole() {
        let redact = crate::redact::tests::redacted;
        let out = redact("using key Nen1Q~OxG0VJ.Wj1.b5rLYcxy~IdY~h8AJoPmogh...");
        assert_eq!(out, "using key AZURE_CLIENT_SECRET_REDACTED...");
        // A token that runs on past the dots is not cut at them.
        let t = "see Nen1Q~OxG0VJ.Wj1.b5rLYcxy~IdY~h8AJoPmogh...abc for details";
        assert_eq!(redact(t), t);
    }

    use super::*;

    #[test]
    fn every_rule_compiles_and_has_anchors() {
        let c = Compiled::build();
        assert_eq!(c.regexes.len(), RULES.len());
        for r in RULES {
            assert!(!r.anchors.is_empty());
        }
    }

    #[test]
    fn github_checksum() {
        // Computed with the public algorithm (CRC32 of the 30 random chars, base62, 6 digits).
        let random = b"zuHfozCNfa80RzFhBxMO4Dn2r6iqUk";
        let mut crc = crc32(random);
        let mut digits = [b'0'; 6];
        for d in digits.iter_mut().rev() {
            *d = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                [(crc % 62) as usize];
            crc /= 62;
        }
        assert!(crc_matches(random, &digits));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
