//! The words before a name written in prose (`new password: …`, `the
//! datadog app key: …`): an identifier alone (`key`, `app key`) often says
//! too little about what it names, and the word before it says the rest.

use super::names::{NameClass, classify, split_words};
use super::scan::priority;

/// The alphabetic word right before the identifier (`new password`, `AWS Secret`).
pub(crate) fn prev_word(bytes: &[u8], raw_s: usize) -> Option<&[u8]> {
    if raw_s < 2 || bytes[raw_s - 1] != b' ' {
        return None;
    }
    let end = raw_s - 1;
    let mut s = end;
    while s > 0 && bytes[s - 1].is_ascii_alphabetic() && end - s < 16 {
        s -= 1;
    }
    if s == end || (s > 0 && bytes[s - 1].is_ascii_alphanumeric()) {
        return None;
    }
    Some(&bytes[s..end])
}

/// `datadog app key: …`, `DD App Key: …`, `heroku api key for staging → …`:
/// a generic qualifier (`app`, `api`) before the key word, and a service
/// named one word further back. The service decides the kind (a Datadog
/// application key is 40 hex, which a bare `app key` would not take), so
/// only a class named for a service is returned; anything else keeps the
/// reading from the nearer word (`your API key: …` is still an API key).
pub(crate) fn service_before(
    bytes: &[u8],
    raw_s: usize,
    words: &[String],
    own: usize,
) -> Option<NameClass> {
    const QUALIFIERS: &[&str] = &["app", "api", "application", "access", "auth", "license"];
    let prev = prev_word(bytes, raw_s)?;
    if !QUALIFIERS
        .iter()
        .any(|q| prev.eq_ignore_ascii_case(q.as_bytes()))
    {
        return None;
    }
    let service = prev_word(bytes, raw_s - 1 - prev.len())?;
    let mut all = Vec::new();
    split_words(service, &mut all);
    all.extend_from_slice(words);
    classify(&all, own).filter(|c| c.priority == priority::NAMED)
}
