//! Sealing and opening: slots, keys, epochs, legacy plaintext, documents.
use super::*;

fn sealer(byte: u8) -> Sealer {
    let s = Sealer::new(&ServerKey::from_bytes([byte; 32]));
    s.learn(&Epoch {
        number: 1,
        salt: "00ff".into(),
    });
    s
}

const SLOT: Slot<'static> = Slot::new(Column::MessageContent, "42");

fn none() -> Result<Vec<Epoch>, StoreError> {
    Ok(Vec::new())
}

#[test]
fn a_sealed_value_opens_only_in_its_own_slot_with_its_own_key() {
    let s = sealer(1);
    let sealed = s.seal(1, SLOT, "hello, partner").unwrap();
    assert!(sealed.starts_with("s1.1."), "{sealed}");
    assert!(!sealed.contains("hello"));
    assert_eq!(
        s.open(SLOT, sealed.clone(), none).unwrap(),
        "hello, partner"
    );
    // The same text twice seals differently (random nonces).
    assert_ne!(s.seal(1, SLOT, "hello, partner").unwrap(), sealed);
    let other_row = Slot::new(Column::MessageContent, "43");
    assert!(s.open(other_row, sealed.clone(), none).is_err());
    let other_column = Slot::new(Column::MessageFiles, "42");
    assert!(s.open(other_column, sealed.clone(), none).is_err());
    let err = sealer(2).open(SLOT, sealed.clone(), none).unwrap_err();
    assert!(err.to_string().contains("another key file"), "{err}");
    // Flip one bit anywhere in the body: never opens, never panics.
    let bytes = sealed.clone().into_bytes();
    for i in "s1.1.".len()..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
        if let Ok(text) = String::from_utf8(flipped) {
            assert!(s.open(SLOT, text, none).is_err(), "byte {i}");
        }
    }
    for bad in ["s1.", "s1.1", "s1.x.AAAA", "s1.1.AAAA", "s1.1.!!!"] {
        assert!(s.open(SLOT, bad.into(), none).is_err(), "{bad}");
    }
}

#[test]
fn legacy_plaintext_reads_as_it_is_only_where_allowed_and_epochs_are_told_apart() {
    let s = sealer(1);
    let err = s.open(SLOT, "plain".into(), none).unwrap_err();
    assert!(err.to_string().contains("is not sealed"), "{err}");
    let files = Slot::new(Column::MessageFiles, "42");
    assert_eq!(s.open(files, EMPTY_LIST.into(), none).unwrap(), "[]");
    assert!(s.open(files, "[\"a\"]".into(), none).is_err());
    s.clone().allow_legacy_plaintext(true);
    assert_eq!(s.open(SLOT, "plain".into(), none).unwrap(), "plain");
    s.allow_legacy_plaintext(false);
    assert!(s.open(SLOT, "plain".into(), none).is_err());
    assert_eq!(Sealer::epoch_of("plain"), None);
    let sealed = s.seal(1, SLOT, "x").unwrap();
    assert_eq!(Sealer::epoch_of(&sealed), Some(1));
    assert!(s.seal(2, SLOT, "x").is_err(), "an epoch never learnt");
    let two = Epoch {
        number: 2,
        salt: "abcd".into(),
    };
    s.learn(&two);
    let newer = s.seal(2, SLOT, "x").unwrap();
    assert_eq!(Sealer::epoch_of(&newer), Some(2));
    assert_eq!(s.open(SLOT, newer.clone(), none).unwrap(), "x");
    assert_eq!(
        s.open(SLOT, sealed, none).unwrap(),
        "x",
        "older epochs still open"
    );
    // Another process with the same key learns epoch 2 when it first meets it.
    let other = sealer(1);
    assert!(!other.knows(&two));
    assert!(other.open(SLOT, newer.clone(), none).is_err());
    let learnt = other
        .open(SLOT, newer.clone(), || Ok(vec![two.clone()]))
        .unwrap();
    assert_eq!(learnt, "x");
    assert!(other.knows(&two));
    // The stored salt wins over a cached one for the same epoch.
    let wrong = Epoch {
        number: 2,
        salt: "ffff".into(),
    };
    other.learn(&wrong);
    assert!(other.knows(&wrong) && !other.knows(&two));
    assert!(other.open(SLOT, newer.clone(), none).is_err());
    other.learn(&two);
    assert_eq!(other.open(SLOT, newer, none).unwrap(), "x");
}

#[test]
fn documents_open_only_with_the_same_key_and_label() {
    let key = ServerKey::from_bytes([1; 32]);
    let sealed = seal_document(&key, "export", b"every message").unwrap();
    assert!(!sealed.contains("message"));
    assert_eq!(
        open_document(&key, "export", &sealed).unwrap(),
        b"every message"
    );
    assert!(open_document(&key, "other", &sealed).is_none());
    let other = ServerKey::from_bytes([2; 32]);
    assert!(open_document(&other, "export", &sealed).is_none());
    assert!(open_document(&key, "export", "AAAA").is_none());
    assert_eq!(key_fingerprint(&key), key_fingerprint(&key.clone()));
    assert_ne!(key_fingerprint(&key), key_fingerprint(&other));
    assert_eq!(key_fingerprint(&key).len(), 16);
}

#[test]
fn salts_and_epochs_change_the_key() {
    let a = sealer(1);
    let b = Sealer::new(&ServerKey::from_bytes([1; 32]));
    b.learn(&Epoch {
        number: 1,
        salt: "00fe".into(),
    });
    let sealed = a.seal(1, SLOT, "x").unwrap();
    assert!(b.open(SLOT, sealed, none).is_err());
    assert_eq!(Sealer::new_salt().unwrap().len(), SALT_BYTES * 2);
    assert_ne!(Sealer::new_salt().unwrap(), Sealer::new_salt().unwrap());
}
