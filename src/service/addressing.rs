//! Addressing: which participant a name in `to` or `participant` designates,
//! and who gets a copy of a message. Pure rules over a conversation as the
//! store read it; no I/O, no store calls.

use super::ServiceError;
use crate::domain::{InvalidValue, Side};
use crate::store::{Conversation, Participant};

/// Who a message is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Addressing {
    /// Every other participant.
    #[default]
    Everyone,
    /// The named participants: roles (case-insensitive) or session ids.
    To(Vec<String>),
}

/// Resolves `to` for a message from `from`: the addressees (shown as `to`)
/// and everyone who gets a copy (the addressees plus every observer), both in
/// session order. A name is a role first (case-insensitive), then a session id.
///
/// # Errors
/// [`ServiceError::InvalidArgument`] when a name matches no active
/// participant, is ambiguous, or names the sender;
/// [`ServiceError::NoRecipient`] when the sender is alone.
pub fn recipients(
    conversation: &Conversation,
    from: Side,
    to: &Addressing,
) -> Result<(Vec<Side>, Vec<Side>), ServiceError> {
    let others: Vec<&Participant> = conversation.active().filter(|p| p.side != from).collect();
    let mut addressed: Vec<Side> = match to {
        Addressing::Everyone => others
            .iter()
            .filter(|p| !p.kind.sees_everything())
            .map(|p| p.side)
            .collect(),
        Addressing::To(names) => {
            if names.is_empty() {
                return Err(InvalidValue::new(
                    "to",
                    "names nobody; leave it out to write to everyone",
                )
                .into());
            }
            let mut sides = Vec::with_capacity(names.len());
            for name in names {
                let side = find(conversation, from, "to", name)?.ok_or_else(|| {
                    InvalidValue::new(
                        "to",
                        format!(
                            "names {:?}, which is no participant's role or session id here (check_partner_status lists them)",
                            printable(name)
                        ),
                    )
                })?;
                if side == from {
                    return Err(InvalidValue::new("to", "names yourself").into());
                }
                sides.push(side);
            }
            sides
        }
    };
    addressed.sort();
    addressed.dedup();
    let mut deliver: Vec<Side> = addressed.clone();
    deliver.extend(
        others
            .iter()
            .filter(|p| p.kind.sees_everything())
            .map(|p| p.side),
    );
    deliver.sort();
    deliver.dedup();
    if deliver.is_empty() {
        // Only the owner can be left alone (it cannot be removed), and
        // `send_to_partner` has no `to`: the text names neither argument.
        return Err(ServiceError::NoRecipient);
    }
    Ok((addressed, deliver))
}

/// The active participant `name` designates: a role (case-insensitive), else
/// a session id.
///
/// A role may be a single letter (`A`, `d`), as session ids are written, so
/// a name may be one participant's role and another's session id. Such a
/// name is refused rather than guessed: delivering what was meant for the
/// owner to the participant named `A` is the worse mistake.
///
/// # Errors
/// When `name` is one participant's role and another's session id (the
/// refusal's advice depends on whether the role is `caller`'s own).
pub(super) fn find(
    conversation: &Conversation,
    caller: Side,
    field: &'static str,
    name: &str,
) -> Result<Option<Side>, InvalidValue> {
    let name = name.trim();
    let by_role = conversation
        .active()
        .find(|p| p.role.eq_ignore_ascii_case(name))
        .map(|p| p.side);
    // Removed participants count too: a name that was session c's id must
    // not quietly reach whoever holds the role `c` after c's removal.
    let by_id = Side::parse(&name.to_ascii_lowercase())
        .ok()
        .filter(|s| conversation.participant(*s).is_some());
    match (by_role, by_id) {
        (Some(role_of), Some(id_of)) if role_of != id_of => {
            let removed = conversation.active_participant(id_of).is_none();
            Err(InvalidValue::new(
                field,
                if removed && role_of == caller {
                    // Naming it by its session id would name the caller.
                    format!(
                        "names {:?}, which is your own role (session {role_of}) and was also the id of session {id_of}, since removed; leave it out",
                        printable(name)
                    )
                } else if removed {
                    // Still refused: a message meant for the removed session
                    // must not reach the role that shares its name.
                    format!(
                        "names {:?}, which is session {role_of}'s role and was also the id of session {id_of}, since removed; to reach {role_of}, name it by its session id \"{role_of}\"",
                        printable(name)
                    )
                } else {
                    format!(
                        "names {:?}, which is session {role_of}'s role and also session {id_of}'s id; name the one you mean by its other name (check_partner_status lists roles and session ids)",
                        printable(name)
                    )
                },
            ))
        }
        (Some(side), _) => Ok(Some(side)),
        (None, _) => Ok(Side::parse(name)
            .ok()
            .and_then(|s| conversation.active_participant(s))
            .map(|p| p.side)),
    }
}

/// A client-supplied name as it may appear in an error text: short, and only
/// the characters a role may hold.
pub(super) fn printable(name: &str) -> String {
    name.chars()
        .take(64)
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, ParticipantKind, Timestamp};

    fn conversation(kinds: &[(&str, ParticipantKind, bool)]) -> Conversation {
        Conversation {
            id: ConversationId::parse("conv_0000000000000001").unwrap(),
            created_at: Timestamp::from_micros(0),
            expires_at: Timestamp::from_micros(1),
            participants: kinds
                .iter()
                .enumerate()
                .map(|(i, (role, kind, removed))| Participant {
                    side: Side::nth(i).unwrap(),
                    role: (*role).to_owned(),
                    kind: *kind,
                    status: None,
                    joined_at: None,
                    removed_at: removed.then(|| Timestamp::from_micros(1)),
                })
                .collect(),
        }
    }

    fn sides(names: &[&str]) -> Vec<Side> {
        names.iter().map(|n| Side::parse(n).unwrap()).collect()
    }

    fn to(names: &[&str]) -> Addressing {
        Addressing::To(names.iter().map(|n| (*n).to_owned()).collect())
    }

    use ParticipantKind::{Member, Observer, Owner};

    #[test]
    fn everyone_means_every_other_member_and_the_observers_get_copies() {
        let c = conversation(&[
            ("lead", Owner, false),
            ("backend", Member, false),
            ("watcher", Observer, false),
            ("frontend", Member, false),
            ("gone", Member, true),
        ]);
        let (to_, deliver) = recipients(&c, Side::A, &Addressing::Everyone).unwrap();
        assert_eq!(to_, sides(&["b", "d"]));
        assert_eq!(deliver, sides(&["b", "c", "d"]));
        let (to_, deliver) = recipients(&c, Side::B, &Addressing::Everyone).unwrap();
        assert_eq!(to_, sides(&["a", "d"]));
        assert_eq!(deliver, sides(&["a", "c", "d"]));
    }

    #[test]
    fn names_are_roles_first_then_session_ids() {
        let c = conversation(&[
            ("lead", Owner, false),
            ("Backend", Member, false),
            ("watcher", Observer, false),
            ("d", Member, false),
        ]);
        let (to_, deliver) = recipients(&c, Side::A, &to(&["backend"])).unwrap();
        assert_eq!((to_, deliver), (sides(&["b"]), sides(&["b", "c"])));
        let (to_, _) = recipients(&c, Side::A, &to(&["d", "b", "BACKEND"])).unwrap();
        assert_eq!(to_, sides(&["b", "d"]));
        // "d" is a role here (from an older file), and it is session d's own.
        let (to_, _) = recipients(&c, Side::B, &to(&["d"])).unwrap();
        assert_eq!(to_, sides(&["d"]));
        let (to_, deliver) = recipients(&c, Side::B, &to(&["watcher"])).unwrap();
        assert_eq!((to_, deliver), (sides(&["c"]), sides(&["c"])));
    }

    #[test]
    fn a_legacy_role_that_is_another_sessions_id_is_ambiguous() {
        let c = conversation(&[
            ("lead", Owner, false),
            ("dev", Member, false),
            ("A", Member, false),
            ("C", Member, false),
            ("x", Member, false),
        ]);
        for name in ["a", "A", "c", " C "] {
            let e = recipients(&c, Side::B, &to(&[name])).unwrap_err();
            assert_eq!(e.code(), "invalid_argument");
            assert!(e.to_string().contains("also session"), "{name:?}: {e}");
        }
        // No session x exists: the role is the only reading.
        let (to_, _) = recipients(&c, Side::B, &to(&["x"])).unwrap();
        assert_eq!(to_, sides(&["e"]));
        assert_eq!(
            find(&c, Side::A, "participant", "lead").unwrap(),
            Some(Side::A)
        );
        // A removed session's id still counts.
        let c = conversation(&[
            ("lead", Owner, false),
            ("dev", Member, false),
            ("qa", Member, true),
            ("c", Member, false),
        ]);
        let e = find(&c, Side::A, "participant", "c")
            .unwrap_err()
            .to_string();
        // The refusal says the session is gone, and how to reach the role.
        assert!(
            e.contains("since removed") && e.contains("session id \"d\""),
            "{e}"
        );
        // Named by the holder of that role itself: its session id would
        // name the caller, so the advice is to leave it out.
        let e = find(&c, sides(&["d"])[0], "to", "c")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("your own role")
                && e.contains("leave it out")
                && !e.contains("session id \"d\""),
            "{e}"
        );
    }

    #[test]
    fn bad_addresses_are_refused() {
        let c = conversation(&[
            ("lead", Owner, false),
            ("backend", Member, false),
            ("gone", Member, true),
        ]);
        for (from, names, needle) in [
            (Side::A, vec!["lead"], "yourself"),
            (Side::A, vec!["a"], "yourself"),
            (Side::A, vec!["nobody"], "no participant"),
            (Side::A, vec!["gone"], "no participant"),
            (Side::A, vec!["c"], "no participant"),
            (Side::A, vec![], "nobody"),
            (Side::A, vec!["\u{1b}[31mx"], "no participant"),
        ] {
            let e = recipients(&c, from, &to(&names)).unwrap_err().to_string();
            assert!(e.contains(needle), "{names:?}: {e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        let alone = conversation(&[("lead", Owner, false), ("backend", Member, true)]);
        let e = recipients(&alone, Side::A, &Addressing::Everyone).unwrap_err();
        assert!(matches!(e, ServiceError::NoRecipient), "{e}");
        assert!(!e.to_string().contains("`to`"), "{e}");
    }
}
