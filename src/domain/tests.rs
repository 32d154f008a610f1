use super::*;

#[test]
fn conversation_ids_are_strict() {
    assert!(ConversationId::parse("conv_0123456789abcdef").is_ok());
    for bad in [
        "",
        "conv_",
        "conv_0123456789ABCDEF",
        "conv_0123456789abcde",
        "xonv_0123456789abcdef",
        "conv_0123456789abcdef0",
        "conv_0123456789abcdeg",
        "conv_0123456789abcdé",
    ] {
        assert!(ConversationId::parse(bad).is_err(), "{bad:?}");
    }
    let id = ConversationId::random().unwrap();
    assert!(ConversationId::parse(id.as_str()).is_ok());
}

#[test]
fn roles_are_bounded_and_plain() {
    assert!(Role::parse("my_role", "backend developer-2").is_ok());
    assert!(Role::parse("my_role", &"x".repeat(64)).is_ok());
    assert!(Role::parse("my_role", &"x".repeat(65)).is_err());
    // Roles that would look like another in a display.
    for spoof in ["alice ", " alice", "alice  bob", "   "] {
        assert!(Role::parse("my_role", spoof).is_err(), "{spoof:?}");
    }
    assert!(Role::parse("my_role", "").is_err());
    assert!(Role::parse("my_role", "a'; DROP TABLE x;--").is_err());
    assert!(Role::parse("my_role", "é").is_err());
    for bridge in [
        "system",
        "System",
        "SYSTEM",
        "bridge",
        "mcp-bridge",
        "MCP Bridge",
        "bridge_system",
        "System Bridge",
    ] {
        let err = Role::parse("my_role", bridge).expect_err(bridge);
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    assert!(Role::parse("my_role", "systems engineer").is_ok());
    assert!(Role::parse("my_role", "bridge builder").is_ok());
    // Given before the names were reserved: an old export still imports.
    assert!(Role::parse_existing("role", "System").is_ok());
    assert!(Role::parse_existing("role", "A").is_ok());
    assert!(Role::parse_existing("role", "a'; DROP").is_err());
}

#[test]
fn message_size_is_bytes_not_chars() {
    assert!(MessageText::parse("x".repeat(MAX_MESSAGE_BYTES)).is_ok());
    assert_eq!(
        MessageText::parse("x".repeat(MAX_MESSAGE_BYTES + 1)).unwrap_err(),
        MessageSizeError::TooLarge {
            size: MAX_MESSAGE_BYTES + 1,
            limit: MAX_MESSAGE_BYTES
        }
    );
    // 'é' is two bytes: 25 601 of them are 51 202 bytes.
    assert!(MessageText::parse("é".repeat(25_601)).is_err());
    assert_eq!(
        MessageText::parse(String::new()).unwrap_err(),
        MessageSizeError::Empty
    );
}

#[test]
fn wire_enums_round_trip() {
    for a in ActionType::ALL {
        assert_eq!(ActionType::parse(a.as_str()).unwrap(), *a);
    }
    assert!(Status::parse("sleeping").is_err());
    assert_eq!(Sender::parse("system").unwrap(), Sender::System);
}

#[test]
fn timestamps_format_with_microseconds() {
    let t = Timestamp::from_micros(1_700_000_000_123_456);
    assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123456Z");
    assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
}

#[test]
fn a_messages_reply_bytes_are_its_texts_as_json_writes_them() {
    let texts = [
        "plain text, ünïcödé and 😀",
        "quotes \" and backslashes \\ and\nnew\tlines\r",
        "\u{1}\u{2}\u{1b}[2J\u{7f}\u{8}\u{c}",
        "",
    ];
    for text in texts {
        let message = Message {
            id: 1,
            from: Sender::System,
            from_role: "system".into(),
            action_type: ActionType::System,
            content: text.to_owned(),
            files_involved: vec![text.to_owned(), "a\u{1}b".to_owned()],
            created_at: Timestamp::from_micros(0),
            to: None,
        };
        let written = |t: &str| serde_json::to_string(t).unwrap().len() - 2;
        assert_eq!(
            message.reply_bytes(),
            2 * written(text) + written("a\u{1}b"),
            "{text:?}"
        );
    }
}
