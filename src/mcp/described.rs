//! Tool descriptions that name this server's configured lifetimes: for a
//! model, the descriptions are all it learns about the bridge before it
//! calls, so "expires after 3 h" must not stay the default's words when the
//! operator set 30 minutes.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;

/// The lifetimes as the built-in descriptions state them (the defaults).
const CONVERSATION_DEFAULT: &str = "Expires after 3 h by default.";
const INVITE_DEFAULT: &str = "(expires in 10 min)";
const INVITE_ARGUMENT_DEFAULT: &str = "(default 10, at most 1440)";

/// Rewrites the lifetimes in `router`'s descriptions of `create_conversation`
/// and `create_invite` (and its `expires_minutes` argument).
pub fn name_lifetimes<T>(router: &mut ToolRouter<T>, conversation_us: i64, invite_us: i64) {
    if let Some(route) = router.map.get_mut("create_conversation") {
        replace(
            &mut route.attr.description,
            CONVERSATION_DEFAULT,
            &format!("Expires after {} on this server.", span(conversation_us)),
        );
    }
    if let Some(route) = router.map.get_mut("create_invite") {
        let invite = span(invite_us);
        replace(
            &mut route.attr.description,
            INVITE_DEFAULT,
            &format!("(expires in {invite} unless expires_minutes says otherwise)"),
        );
        let schema = Arc::make_mut(&mut route.attr.input_schema);
        if let Some(serde_json::Value::String(text)) = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("expires_minutes"))
            .and_then(|a| a.get_mut("description"))
        {
            *text = text.replace(
                INVITE_ARGUMENT_DEFAULT,
                &format!("(default {invite} on this server, at most 1440 minutes)"),
            );
        }
    }
}

fn replace(description: &mut Option<std::borrow::Cow<'static, str>>, from: &str, to: &str) {
    if let Some(text) = description.as_mut()
        && text.contains(from)
    {
        *text = text.replace(from, to).into();
    }
}

/// `us` as a person would say it: whole hours as `3 h`, whole minutes as
/// `30 min`, else seconds.
pub(super) fn span(us: i64) -> String {
    let s = us / 1_000_000;
    if s > 0 && s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s > 0 && s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(3 * 3_600_000_000), "3 h");
        assert_eq!(span(30 * 60_000_000), "30 min");
        assert_eq!(span(90 * 60_000_000), "90 min");
        assert_eq!(span(45_000_000), "45 s");
    }
}
