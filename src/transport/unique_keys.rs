//! Whether a JSON message gives a key twice in one object, on either
//! transport.
//!
//! rmcp refuses a key given twice where it reads a struct, but a tool's
//! `arguments` is a map, where the last value silently wins: a call could
//! show `"session_id": "b"` to a proxy or an approval screen reading the
//! first one while the bridge acted as `"a"` (red team). Every request is
//! walked once more and one holding such an object is refused whole, before
//! anything reads it. Keys are compared decoded, so `"to\u006ben"` and
//! `"token"` are the same key.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a refusal says.
pub const DUPLICATE_KEY: &str =
    "Invalid request: a key is given twice in one JSON object; nothing was done";

/// The error the walk stops with at a duplicate (told apart from others by its text).
const FOUND: &str = "mcp-bridge: duplicate key";

/// Above this many keys an object's keys go into a set (a hostile object
/// of 100 000 keys must not cost a quadratic scan).
const LINEAR_KEYS: usize = 16;

/// Whether `json` holds an object that gives a key twice. JSON that cannot
/// be walked (not JSON, nested beyond the parser's limit) says `false`:
/// the decoders refuse it on their own.
pub fn duplicated(json: &[u8]) -> bool {
    let mut reader = serde_json::Deserializer::from_slice(json);
    match Walk.deserialize(&mut reader) {
        Ok(()) => false,
        Err(e) => e.to_string().starts_with(FOUND),
    }
}

/// Walks one value, checking every object in it.
#[derive(Clone, Copy)]
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let seen = if many.is_empty() && few.len() < LINEAR_KEYS {
                let seen = few.contains(&key);
                few.push(key);
                seen
            } else {
                many.extend(few.drain(..));
                !many.insert(key)
            };
            if seen {
                return Err(de::Error::custom(FOUND));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// A key, borrowed from the input unless it holds an escape.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::duplicated;

    #[test]
    fn a_key_given_twice_anywhere_is_found() {
        for json in [
            r#"{"a":1,"a":2}"#,
            r#"{"params":{"arguments":{"session_id":"b","token":"x","session_id":"a"}}}"#,
            r#"{"x":[{"k":1},{"k":1,"k":2}]}"#,
            r#"{"token":1,"to\u006ben":2}"#,
            r#"[{"deep":{"deeper":{"n":null,"n":null}}}]"#,
        ] {
            assert!(duplicated(json.as_bytes()), "{json}");
        }
        let many: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
        let mut wide = format!("{{{}}}", many.join(","));
        assert!(!duplicated(wide.as_bytes()));
        wide.insert_str(wide.len() - 1, ",\"k500\":0");
        assert!(duplicated(wide.as_bytes()));
    }

    #[test]
    fn distinct_keys_and_unwalkable_json_are_not() {
        for json in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":{"a":{"a":1}}}}}"#,
            r#"{"a":1,"A":2,"a ":3}"#,
            r#"[1,"two",null,true,{"k":[{"k":1}]},-3.5e10]"#,
            "not json",
            r#"{"a":1,"b""#,
        ] {
            assert!(!duplicated(json.as_bytes()), "{json}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(!duplicated(deep.as_bytes()));
    }
}
