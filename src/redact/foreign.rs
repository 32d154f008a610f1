//! Secrets named in prose in languages other than English: `Hasło do bazy
//! to X`, `Пароль от админки: X`, `비밀번호는 X 입니다`, `La contraseña del
//! usuario es X`, `API anahtarı: X`.
//!
//! The secret word is an anchor of its own (the identifier rules of
//! [`super::assign`] read ASCII names); from it a few words of any script
//! may qualify it (`do bazy na stagingu`), then a link — a colon, `=`, or
//! the language's copula (`to`, `es`, `é`, `là`, `adalah`, …) — and the next
//! word is the value, judged as a value of that name.

use super::names::classify;
use super::scan::Scan;
use super::text::line_end;
use super::value::is_secret_value;

/// What a foreign word names.
#[derive(Clone, Copy)]
enum Names {
    Password,
    ApiKey,
    Token,
}

/// Secret words, with the capitalised form where the first letter is not
/// ASCII (the anchor automaton folds ASCII case only).
#[rustfmt::skip]
const WORDS: &[(&str, Names)] = &[
    ("пароль", Names::Password), ("Пароль", Names::Password), ("ПАРОЛЬ", Names::Password),
    ("парола", Names::Password), ("Парола", Names::Password), ("Лозинка", Names::Password),
    ("lozinka", Names::Password), ("geslo", Names::Password), ("parool", Names::Password),
    ("slaptažodis", Names::Password), ("lykilorð", Names::Password), ("kata laluan", Names::Password),
    ("nenosiri", Names::Password), ("رمز عبور", Names::Password), ("كلمة السر", Names::Password),
    ("পাসওয়ার্ড", Names::Password), ("รหัสผ่าน", Names::Password),
    ("hasło", Names::Password), ("haslo", Names::Password), ("senha", Names::Password),
    ("contraseña", Names::Password), ("Contraseña", Names::Password), ("contrasena", Names::Password),
    ("şifre", Names::Password), ("Şifre", Names::Password), ("sifre", Names::Password),
    ("parola", Names::Password), ("mật khẩu", Names::Password), ("Mật khẩu", Names::Password),
    ("wachtwoord", Names::Password), ("kata sandi", Names::Password), ("heslo", Names::Password),
    ("jelszó", Names::Password), ("lösenord", Names::Password), ("passord", Names::Password),
    ("adgangskode", Names::Password), ("salasana", Names::Password), ("kennwort", Names::Password),
    ("passwort", Names::Password),
    ("mot de passe", Names::Password), ("contrasenya", Names::Password), ("лозинка", Names::Password),
    ("κωδικός", Names::Password), ("סיסמה", Names::Password), ("كلمة المرور", Names::Password),
    ("पासवर्ड", Names::Password), ("비밀번호", Names::Password), ("密码", Names::Password),
    ("密碼", Names::Password), ("口令", Names::Password), ("パスワード", Names::Password),
    ("ключ", Names::ApiKey), ("Ключ", Names::ApiKey), ("klucz", Names::ApiKey),
    ("khóa", Names::ApiKey), ("Khóa", Names::ApiKey), ("anahtar", Names::ApiKey),
    ("chave", Names::ApiKey), ("clave", Names::ApiKey), ("clé", Names::ApiKey), ("Clé", Names::ApiKey),
    ("schlüssel", Names::ApiKey), ("Schlüssel", Names::ApiKey), ("chiave", Names::ApiKey),
    ("sleutel", Names::ApiKey), ("kunci", Names::ApiKey), ("nyckel", Names::ApiKey),
    ("nøgle", Names::ApiKey), ("nøkkel", Names::ApiKey), ("klíč", Names::ApiKey),
    ("キー", Names::ApiKey), ("密钥", Names::ApiKey), ("密鑰", Names::ApiKey), ("키", Names::ApiKey),
    ("токен", Names::Token), ("Токен", Names::Token), ("토큰", Names::Token),
    ("トークン", Names::Token), ("令牌", Names::Token),
];

/// The anchors, in [`WORDS`] order.
pub(crate) fn anchors() -> impl Iterator<Item = &'static str> {
    WORDS.iter().map(|(w, _)| *w)
}

/// Words that link a name to its value, lower case.
#[rustfmt::skip]
const COPULAS: &[&str] = &[
    "to", "jest", "é", "e", "è", "es", "est", "ist", "is", "là", "adalah", "ialah", "är", "er", "on",
    "je", "—", "–", "-", "=", "это", "равен", "είναι", "הוא", "هي", "है", "是", "为", "為", "は", "이",
    "olan", "ni", "lautet", "sind", "será", "sera", "este", "ir", "yra", "је", "е", "є", "คือ",
];

/// Particles glued to a CJK word that make it the topic (`비밀번호는 X`).
const PARTICLES: &[&str] = &["는", "은", "は", "是", "为", "為", "：", ":", "คือ"];

/// Thai writes `is` glued to the words before it, qualifiers and all
/// (`รหัสผ่านของฐานข้อมูลคือ X`, the database's password is X).
const GLUED_COPULAS: &[&str] = &["คือ"];

/// Words that qualify the name before its link (`do bazy na stagingu`).
const MAX_QUALIFIERS: usize = 7;

/// Handles foreign secret word `i` found at `start..end`.
pub(crate) fn on_word(scan: &mut Scan<'_>, i: usize, start: usize, end: usize) {
    let bytes = scan.bytes;
    let Some(&(word, names)) = WORDS.get(i) else {
        return;
    };
    // A word of its own: nothing of a longer word before it. CJK words are
    // written glued to a Latin one (`API令牌：`, `APIキーは`).
    let cjk_word = super::text::cjk_at(word.as_bytes(), 0);
    if start > 0
        && ((bytes[start - 1].is_ascii_alphanumeric() && !cjk_word)
            || (word.is_ascii() && bytes[start - 1] >= 0x80))
    {
        return;
    }
    let le = line_end(bytes, end).min(end + 160);
    let Ok(rest) = std::str::from_utf8(&bytes[end..le]) else {
        return;
    };
    // Scripts written without spaces between words: Thai and its
    // neighbours (from U+0E00) as well as CJK.
    let cjk =
        !word.as_bytes()[0].is_ascii() && word.chars().next().is_some_and(|c| c as u32 >= 0x0E00);
    let Some(value_at) = link(rest, cjk) else {
        return;
    };
    let vs = end + value_at;
    let v = &bytes[vs..le];
    // The value ends at a space or where CJK prose resumes (`Xk9…です`,
    // `X，请勿外传`): a value is ASCII, and the prose after it is not.
    let mut ve = v
        .iter()
        .position(|&b| b.is_ascii_whitespace() || !b.is_ascii())
        .map_or(le, |p| vs + p);
    // A sentence's punctuation after the value.
    while ve > vs && matches!(bytes[ve - 1], b'.' | b',' | b';' | b')' | b'!' | b'?') {
        ve -= 1;
    }
    for stop in ["。", "、", "，", "）"] {
        if let Some(p) = find(&bytes[vs..ve], stop.as_bytes()) {
            ve = vs + p;
        }
    }
    let (mut vs, mut ve) = (vs, ve);
    if ve - vs >= 2 && matches!(bytes[vs], b'"' | b'\'' | b'`') && bytes[ve - 1] == bytes[vs] {
        vs += 1;
        ve -= 1;
    }
    let name: &[&str] = match names {
        Names::Password => &["password"],
        Names::ApiKey => &["api", "key"],
        Names::Token => &["token"],
    };
    let words: Vec<String> = name.iter().map(|w| (*w).to_owned()).collect();
    let Some(class) = classify(&words, words.len()) else {
        return;
    };
    let v = &bytes[vs..ve];
    if v.len() >= 6 && v.is_ascii() && is_secret_value(v, class.strictness, false) {
        scan.push(vs, ve, class.kind, class.priority);
    }
}

/// Where the value starts in `rest` (the line after the secret word): after
/// a particle glued to a CJK word, or after a few qualifying words and a
/// link.
fn link(rest: &str, cjk: bool) -> Option<usize> {
    let mut i = 0;
    // The rest of the word itself (`anahtarı`, `hasła`) or its particle.
    let glued = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let tail = &rest[..glued];
    if cjk && PARTICLES.contains(&tail)
        || tail.ends_with(':')
        || tail.ends_with('：')
        || (cjk && GLUED_COPULAS.iter().any(|c| tail.ends_with(c)))
    {
        return value_start(rest, glued);
    }
    // `密码是Xk9…`, `token为…`: the particle glued to the value as well.
    if cjk
        && let Some(p) = PARTICLES
            .iter()
            .find(|p| tail.starts_with(**p) && tail.len() > p.len())
    {
        return value_start(rest, p.len());
    }
    // `密码：X`, `パスワード:X`: the value glued to the CJK word's colon.
    if cjk && let Some(p) = ["：", ":"].iter().find(|p| tail.starts_with(**p)) {
        return value_start(rest, p.len());
    }
    // `访问令牌 X 已生成`: CJK needs no link word before a generated value.
    if cjk && tail.is_empty() && generated_word(rest) {
        return value_start(rest, 0);
    }
    if !tail.chars().all(char::is_alphabetic) {
        return None;
    }
    i += glued;
    for _ in 0..=MAX_QUALIFIERS {
        let ws = i + rest[i..].len() - rest[i..].trim_start().len();
        if ws >= rest.len() {
            return None;
        }
        let we = rest[ws..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |p| ws + p);
        let token = &rest[ws..we];
        let lower = token.to_lowercase();
        if COPULAS.contains(&lower.as_str()) || token == ":" || token == "：" {
            return value_start(rest, we);
        }
        // A qualifier with the colon glued on: `стейджинга:`.
        if let Some(head) = token.strip_suffix(':').or_else(|| token.strip_suffix('：'))
            && is_word(head)
        {
            return value_start(rest, we);
        }
        // Korean: the topic particle on the last qualifier (`API 키는`).
        if cjk && PARTICLES.iter().any(|p| token.ends_with(p)) && token.chars().count() > 1 {
            return value_start(rest, we);
        }
        if !is_word(token) {
            return None;
        }
        i = we;
    }
    None
}

/// The first word of `rest` is ASCII with lower and upper case letters and
/// digits, 16 or more of them: a value even with no link word before it.
fn generated_word(rest: &str) -> bool {
    let w = rest.split_whitespace().next().unwrap_or("");
    let w = w.split(|c: char| !c.is_ascii()).next().unwrap_or("");
    let p = super::text::Profile::of(w.as_bytes());
    w.len() >= 16 && p.lower > 0 && p.upper > 0 && p.digit > 0
}

/// A qualifying word: letters of any script, `-`, `'`, digits inside.
fn is_word(token: &str) -> bool {
    token.chars().next().is_some_and(char::is_alphabetic)
        && token
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '\'')
}

/// The first non-blank byte at or after `at`, if the line holds one; a
/// colon standing after a copula (`Le mot de passe est : X`) is skipped.
fn value_start(rest: &str, at: usize) -> Option<usize> {
    let skipped = rest[at..].len() - rest[at..].trim_start().len();
    let mut at = at + skipped;
    for colon in [":", "："] {
        if let Some(after) = rest[at..].strip_prefix(colon)
            && after.starts_with(char::is_whitespace)
        {
            at = rest.len() - after.trim_start().len();
        }
    }
    (at < rest.len()).then_some(at)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
