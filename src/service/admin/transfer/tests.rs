//! Tests of the export format: round trips, validation and refusals.
use super::*;
use crate::domain::{ActionType, Message, ParticipantKind, Sender, Side, Status};
use crate::store::{Participant, StatusRecord};

/// The default `conversation_ttl_minutes` (180), in microseconds.
const TTL: i64 = 180 * 60_000_000;

fn sample() -> Vec<ConversationRecord> {
    let status = StatusRecord {
        status: Status::Working,
        note: Some("on it".into()),
        updated_at: Timestamp::from_micros(1_700_000_000_500_000),
    };
    let conversation = Conversation {
        id: ConversationId::parse("conv_00000000000000aa").unwrap(),
        created_at: Timestamp::from_micros(1_700_000_000_000_000),
        expires_at: Timestamp::from_micros(1_700_010_800_000_000),
        participants: vec![
            Participant {
                side: Side::A,
                role: "backend".into(),
                kind: ParticipantKind::Owner,
                status: Some(status),
                joined_at: None,
                removed_at: None,
            },
            Participant {
                side: Side::B,
                role: "frontend dev".into(),
                kind: ParticipantKind::Member,
                status: None,
                joined_at: None,
                removed_at: None,
            },
        ],
    };
    let message = |id, from, unread_by| MessageRecord {
        message: Message {
            id,
            from,
            from_role: match from {
                Sender::Side(Side::A) => "backend".into(),
                Sender::Side(_) => "frontend dev".into(),
                Sender::System => "system".into(),
            },
            action_type: ActionType::Proposal,
            content: format!("message {id}\nsecond line"),
            files_involved: vec!["src/lib.rs".into()],
            created_at: Timestamp::from_micros(1_700_000_001_000_000 + id),
            to: match from {
                Sender::Side(Side::A) => Some(vec![Side::B]),
                Sender::Side(_) => Some(vec![Side::A]),
                Sender::System => None,
            },
        },
        unread_by,
    };
    vec![ConversationRecord {
        conversation,
        messages: vec![
            message(3, Sender::Side(Side::A), vec![]),
            message(9, Sender::Side(Side::B), vec![Side::A]),
            message(10, Sender::System, vec![Side::A, Side::B]),
        ],
    }]
}

fn export(layout: Layout) -> String {
    let mut out = Vec::new();
    write_export(
        &mut out,
        &sample(),
        Timestamp::from_micros(1_700_000_100_000_000),
        layout,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn both_layouts_round_trip() {
    for layout in [Layout::Json, Layout::JsonLines] {
        assert_eq!(
            read_export(&export(layout), TTL).unwrap(),
            sample(),
            "{layout:?}"
        );
    }
    let lines = export(Layout::JsonLines);
    assert_eq!(lines.lines().count(), 1 + 1 + 3);
    assert!(
        lines
            .lines()
            .next()
            .unwrap()
            .contains("\"layout\":\"jsonl\"")
    );
}

#[test]
fn blank_lines_before_the_header_are_ignored() {
    for layout in [Layout::Json, Layout::JsonLines] {
        let padded = format!("\n  \n{}", export(layout));
        assert_eq!(read_export(&padded, TTL).unwrap(), sample(), "{layout:?}");
    }
}

#[test]
fn newer_versions_are_refused() {
    for layout in [Layout::Json, Layout::JsonLines] {
        let text = export(layout)
            .replacen("\"version\": 2", "\"version\": 3", 1)
            .replacen("\"version\":2", "\"version\":3", 1);
        assert_eq!(
            read_export(&text, TTL),
            Err(ExportFileError::TooNew {
                found: 3,
                supported: 2
            }),
            "{layout:?}"
        );
    }
}

#[test]
fn bad_files_name_the_problem() {
    let json = export(Layout::Json);
    let cases = [
        (
            json.replace("conv_00000000000000aa", "conv_XYZ"),
            "conversation_id",
        ),
        (
            json.replace("\"proposal\"", "\"shout\""),
            "message 3: `action_type`",
        ),
        (
            json.replace("\"frontend dev\"", "\"x;rm -rf\""),
            "side b: `role`",
        ),
        (
            json.replacen("\"id\": 9", "\"id\": 2", 1),
            "increasing id order",
        ),
        (
            json.replace(
                "\"unread_by\": [\n            \"a\"\n          ]",
                "\"unread_by\": [\"b\"]",
            ),
            "own sender",
        ),
        (
            json.replace("mcp-bridge-export", "something-else"),
            "`format`",
        ),
        (
            json.replace(
                "\"content\": \"message 3\\nsecond line\"",
                "\"content\": \"\"",
            ),
            "`content`",
        ),
        (
            json.replacen("\"status_at\"", "\"surprise\"", 1),
            "unknown field",
        ),
        (
            "{\"format\": \"mcp-bridge-export\", \"version\": 2, \"conversations\": [".into(),
            "invalid",
        ),
        ("garbage".into(), "not an mcp-bridge export"),
    ];
    for (text, expected) in cases {
        let err = read_export(&text, TTL).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
    }
    let lines = export(Layout::JsonLines);
    let moved: Vec<&str> = lines.lines().collect();
    let reordered = [moved[0], moved[2], moved[1]].join("\n");
    assert!(
        read_export(&reordered, TTL)
            .unwrap_err()
            .to_string()
            .contains("line 2: a message before any conversation")
    );
}

#[test]
fn ids_and_times_out_of_range_are_refused() {
    let json = export(Layout::Json);
    for (from, to, problem) in [
        (
            "\"id\": 9",
            "\"id\": 9223372036854775807",
            "`id` must be 1 to",
        ),
        ("\"id\": 9", "\"id\": 9007199254740993", "`id` must be 1 to"),
        ("\"id\": 3", "\"id\": 0", "`id` must be 1 to"),
        (
            "2023-11-14T22:13:21",
            "1969-12-31T23:59:59",
            "outside the years 2000 to 2999",
        ),
        (
            "2023-11-14T22:13:21",
            "3000-01-01T00:00:00",
            "outside the years 2000 to 2999",
        ),
    ] {
        assert!(json.contains(from), "{from} not in the sample");
        let text = json.replacen(from, to, 1);
        let e = read_export(&text, TTL).unwrap_err().to_string();
        assert!(e.contains(problem), "{to}: {e}");
    }
    // The bound itself is accepted: 2^53 (with the following ids above it).
    let at_bound = json
        .replacen("\"id\": 3,", "\"id\": 9007199254740990,", 1)
        .replacen("\"id\": 9,", "\"id\": 9007199254740991,", 1)
        .replacen("\"id\": 10,", "\"id\": 9007199254740992,", 1);
    let records = read_export(&at_bound, TTL).unwrap();
    assert_eq!(records[0].messages[2].message.id, MAX_IMPORTED_ID);
}

#[test]
fn exports_escape_what_could_act_on_a_terminal_and_read_back_the_same() {
    let mut records = sample();
    let hostile = "rlo\u{202e}csi\u{9b}2Jdel\u{7f}zw\u{200b}esc\x1b[2J";
    records[0].messages[0].message.content = hostile.to_owned();
    for layout in [Layout::Json, Layout::JsonLines] {
        let mut out = Vec::new();
        write_export(
            &mut out,
            &records,
            Timestamp::from_micros(1_700_000_100_000_000),
            layout,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !crate::display::has_unsafe(&text.replace('\n', "")),
            "{text}"
        );
        assert!(
            text.contains("\\u202e") && text.contains("\\u009b"),
            "{text}"
        );
        assert_eq!(read_export(&text, TTL).unwrap(), records, "{layout:?}");
    }
}

/// A version 1 file, as the build before teams wrote it: no `kind`, no `to`.
const VERSION_1: &str = r#"{
  "format": "mcp-bridge-export", "version": 1, "exported_at": "2023-11-14T22:15:00.000000Z",
  "conversations": [{
    "id": "conv_00000000000000aa",
    "created_at": "2023-11-14T22:13:20.000000Z", "expires_at": "2023-11-15T01:13:20.000000Z",
    "participants": [
      {"side": "a", "role": "backend", "status": null, "note": null, "status_at": null},
      {"side": "b", "role": "frontend", "status": null, "note": null, "status_at": null}],
    "messages": [{"id": 4, "from": "b", "action_type": "info", "content": "hi",
                  "files_involved": [], "created_at": "2023-11-14T22:14:00.000000Z", "unread_by": ["a"]}]
  }]
}"#;

#[test]
fn version_1_files_still_import() {
    let records = read_export(VERSION_1, TTL).unwrap();
    let c = &records[0].conversation;
    assert_eq!(
        c.participants.iter().map(|p| p.kind).collect::<Vec<_>>(),
        [ParticipantKind::Owner, ParticipantKind::Member]
    );
    let m = &records[0].messages[0];
    assert_eq!(
        (m.message.to.clone(), m.unread_by.clone()),
        (None, vec![Side::A])
    );
}

#[test]
fn teams_round_trip_and_are_checked() {
    let mut records = sample();
    let c = &mut records[0].conversation;
    c.participants.push(Participant {
        side: Side::nth(2).unwrap(),
        role: "reviewer".into(),
        kind: ParticipantKind::Observer,
        status: None,
        joined_at: Some(Timestamp::from_micros(1_700_000_000_700_000)),
        removed_at: Some(Timestamp::from_micros(1_700_000_000_900_000)),
    });
    records[0].messages[0].message.to = Some(vec![Side::B, Side::nth(2).unwrap()]);
    let mut out = Vec::new();
    write_export(&mut out, &records, Timestamp::from_micros(1), Layout::Json).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(read_export(&text, TTL).unwrap(), records);
    let cases = [
        (
            text.replacen("\"owner\"", "\"member\"", 1),
            "owner is side a",
        ),
        (text.replace("\"observer\"", "\"owner\""), "owner is side a"),
        (
            text.replace("\"side\": \"c\"", "\"side\": \"d\""),
            "without gaps",
        ),
        (
            text.replacen("\"c\"\n          ]", "\"x\"\n          ]", 1),
            "not a participant",
        ),
    ];
    for (bad, expected) in cases {
        assert_ne!(bad, text, "{expected}: the replacement did not apply");
        let err = read_export(&bad, TTL).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
    }
    // Written out and read back in.
    let reread = |records: &[ConversationRecord]| {
        let mut out = Vec::new();
        write_export(&mut out, records, Timestamp::from_micros(1), Layout::Json).unwrap();
        read_export(&String::from_utf8(out).unwrap(), TTL).map_err(|e| e.to_string())
    };
    // A removed participant has no inbox: a file may not queue anything for it.
    let mut queued = records.clone();
    queued[0].messages[0].unread_by.push(Side::nth(2).unwrap());
    let err = reread(&queued).unwrap_err();
    assert!(err.contains("a removed participant"), "{err}");
    // A removed participant's role may be taken again, an active one's not.
    let c = &mut records[0].conversation;
    c.participants[2].role = "Backend".into();
    assert!(reread(&records).is_ok());
    records[0].conversation.participants[2].removed_at = None;
    let err = reread(&records).unwrap_err();
    assert!(err.contains("two active"), "{err}");
}

/// `records` written out and read back as of `now`.
fn reread_at(records: &[ConversationRecord], now: Timestamp) -> Result<(), String> {
    let mut out = Vec::new();
    write_export(&mut out, records, Timestamp::from_micros(1), Layout::Json).unwrap();
    let clock = ImportClock { now, ttl_us: TTL };
    read_export_at(&String::from_utf8(out).unwrap(), clock)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn removals_the_tools_could_not_make_are_refused() {
    let now = Timestamp::from_micros(1_700_000_100_000_000);
    let removed = |side: usize, at: i64| {
        let mut records = sample();
        records[0].messages.retain(|m| m.unread_by.is_empty());
        records[0].conversation.participants[side].removed_at = Some(Timestamp::from_micros(at));
        records
    };
    assert_eq!(reread_at(&removed(1, 1_700_000_050_000_000), now), Ok(()));
    let cases = [
        (
            removed(0, 1_700_000_050_000_000),
            "the owner cannot be removed",
        ),
        (
            removed(1, 1_600_000_000_000_000),
            "before the participant joined",
        ),
        (
            removed(1, 1_700_003_700_000_000),
            "`removed_at` is in the future",
        ),
    ];
    for (records, expected) in cases {
        let err = reread_at(&records, now).unwrap_err();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
    }
    // A little ahead is the writer's clock, not a future removal.
    assert_eq!(reread_at(&removed(1, 1_700_000_160_000_000), now), Ok(()));
    // Before the joining by more than clock skew (5 minutes).
    let mut joined = removed(1, 1_700_000_050_000_000);
    joined[0].conversation.participants[1].joined_at =
        Some(Timestamp::from_micros(1_700_000_360_000_000));
    let err = reread_at(&joined, now).unwrap_err();
    assert!(err.contains("before the participant joined"), "{err}");
}

#[test]
fn times_the_tools_could_not_write_are_refused() {
    // The sample: created at …000 s, expiring 3 h later, heartbeat and messages 1 s in.
    let now = Timestamp::from_micros(1_700_000_100_000_000);
    let at = Timestamp::from_micros;
    let changed = |change: &dyn Fn(&mut ConversationRecord)| {
        let mut records = sample();
        change(&mut records[0]);
        records
    };
    assert_eq!(reread_at(&sample(), now), Ok(()));
    let future = 1_800_000_000_000_000;
    let cases = [
        (
            changed(&|r| {
                r.conversation.participants[0]
                    .status
                    .as_mut()
                    .unwrap()
                    .updated_at = at(future)
            }),
            "side a: `status_at` is in the future",
        ),
        (
            changed(&|r| {
                r.conversation.participants[0]
                    .status
                    .as_mut()
                    .unwrap()
                    .updated_at = at(1_600_000_000_000_000)
            }),
            "side a: `status_at` is before the participant joined",
        ),
        (
            changed(&|r| r.conversation.participants[1].joined_at = Some(at(future))),
            "side b: `joined_at` is in the future",
        ),
        (
            changed(&|r| {
                r.conversation.participants[1].joined_at = Some(at(1_600_000_000_000_000))
            }),
            "side b: `joined_at` is before the conversation was created",
        ),
        (
            changed(&|r| r.messages[0].message.created_at = at(1_600_000_000_000_000)),
            "message 3: `created_at` is before the conversation was created",
        ),
        (
            changed(&|r| r.messages[2].message.created_at = at(future)),
            "message 10: `created_at` is in the future",
        ),
        (
            changed(&|r| r.conversation.expires_at = at(future)),
            "`expires_at` is more than conversation_ttl_minutes (180) from now",
        ),
    ];
    for (records, expected) in cases {
        let err = reread_at(&records, now).unwrap_err();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
    }
    // A status set before a later joining is refused, by more than clock
    // skew (5 minutes; within it, two hosts' clocks may disagree).
    let late =
        changed(&|r| r.conversation.participants[0].joined_at = Some(at(1_700_000_360_000_000)));
    let err = reread_at(&late, now).unwrap_err();
    assert!(
        err.contains("`status_at` is before the participant joined"),
        "{err}"
    );
    // Joined on a host whose clock is a little behind the creator's.
    let behind =
        changed(&|r| r.conversation.participants[1].joined_at = Some(at(1_699_999_990_000_000)));
    assert_eq!(reread_at(&behind, now), Ok(()));
    // An expiry a TTL (plus clock skew) from now is what a conversation made now gets.
    let full = changed(&|r| r.conversation.expires_at = now.plus_micros(TTL + 60_000_000));
    assert_eq!(reread_at(&full, now), Ok(()));
}

#[test]
fn messages_observers_could_not_send_or_get_are_refused() {
    let now = Timestamp::from_micros(1_700_000_100_000_000);
    let mut records = sample();
    records[0].conversation.participants.push(Participant {
        side: Side::nth(2).unwrap(),
        role: "watcher".into(),
        kind: ParticipantKind::Observer,
        status: None,
        joined_at: None,
        removed_at: None,
    });
    // Observers get every message, addressed or not.
    records[0].messages[0].unread_by = vec![Side::nth(2).unwrap()];
    assert_eq!(reread_at(&records, now), Ok(()));
    let mut sent = records.clone();
    sent[0].messages[1].message.from = Sender::Side(Side::nth(2).unwrap());
    sent[0].messages[1].message.from_role = "watcher".into();
    let err = reread_at(&sent, now).unwrap_err();
    assert!(err.contains("`from` is side c, an observer"), "{err}");
    // Message 3, from a, now goes to c alone: member b, not addressed, gets no copy.
    let mut unaddressed = records;
    unaddressed[0].messages[0].message.to = Some(vec![Side::nth(2).unwrap()]);
    unaddressed[0].messages[0].unread_by = vec![Side::B];
    let err = reread_at(&unaddressed, now).unwrap_err();
    assert!(
        err.contains("`unread_by` holds b, which is not in `to`"),
        "{err}"
    );
}

#[test]
fn more_unread_than_the_pending_limit_is_refused() {
    let records = sample();
    // Side a has two unread messages (9 and 10), side b one.
    let limits = |max_pending| MergeLimits {
        max_pending,
        max_participants: 16,
    };
    assert_eq!(check_merge(&records, limits(2)), Ok(()));
    let err = check_merge(&records, limits(1)).unwrap_err().to_string();
    assert!(
        err.contains("side a has 2 unread messages, more than limits.max_pending_messages (1)"),
        "{err}"
    );
}
