//! MCP prompts (`prompts/list`, `prompts/get`; slash commands in Claude Code):
//! ready-made starters that tell an agent how to work in a team through the
//! bridge — start one, join one with a code, review a teammate's work — with
//! the long-poll that keeps it from forgetting to read its messages.

use rmcp::ErrorData;

use crate::domain::{InviteCode, Role as RoleName};
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, ListPromptsResult, Prompt, PromptArgument,
    PromptMessage, Role,
};

/// Longest prompt argument accepted, in characters.
const MAX_ARGUMENT_CHARS: usize = 2000;

/// The loop every prompt ends with: wait for messages instead of forgetting them.
const WORK_LOOP: &str = "\
Then work in this loop until the task is done:
1. Call check_messages with wait_seconds 60 whenever you are waiting for a teammate; it returns as soon as a message arrives, so never poll with wait_seconds 0 in a loop.
2. Answer with send_message: `to` names roles or session ids (omit it to write to everyone); use action_type question, answer, proposal, review, request or ack.
3. Call update_my_status (working, waiting, blocked, complete, with a short note) when your state changes; check_partner_status shows everyone's.
This session remembers its conversation: leave out conversation_id, session_id and token. Never put tokens, invite codes or secrets in a message.";

fn argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

/// The prompts this server offers.
pub(super) fn list() -> ListPromptsResult {
    ListPromptsResult::with_all_items(vec![
        Prompt::new(
            "start_team",
            Some("Start a team: open a conversation, invite teammates, coordinate."),
            Some(vec![
                argument("my_role", "Your role, e.g. backend", true),
                argument(
                    "teammates",
                    "Teammates' roles, comma-separated; add :observer for one that only watches, e.g. frontend, reviewer:observer",
                    true,
                ),
                argument("goal", "What the team is to achieve", false),
            ]),
        ),
        Prompt::new(
            "join_team",
            Some("Join a team with the invite code a human gave you."),
            Some(vec![argument(
                "invite_code",
                "The code, e.g. 7KQ2-M9XD-4HTP-0R3C",
                true,
            )]),
        ),
        Prompt::new(
            "review_work",
            Some("Review a teammate's work and send the review back."),
            Some(vec![
                argument("teammate", "Whose work: a role or session id", true),
                argument("focus", "What to look at, e.g. error handling", false),
            ]),
        ),
    ])
}

/// A prompt argument as plain text: letters, digits and simple punctuation
/// only, so an argument cannot smuggle instructions in control characters.
fn plain(arguments: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    let text = arguments.get(name)?.as_str()?.trim();
    if text.is_empty() {
        return None;
    }
    Some(
        text.chars()
            .filter(|c| !c.is_control())
            .take(MAX_ARGUMENT_CHARS)
            .collect(),
    )
}

fn required(
    arguments: &serde_json::Map<String, serde_json::Value>,
    prompt: &str,
    name: &str,
) -> Result<String, ErrorData> {
    plain(arguments, name).ok_or_else(|| {
        ErrorData::invalid_params(format!("prompt {prompt} needs the argument {name}"), None)
    })
}

/// `text` as a role the tools accept, or the prompt's refusal naming the
/// argument (and `which` teammate), so a prompt never writes out a step
/// that must fail (`system`, a role of 5 000 characters, an instruction).
fn role(prompt: &str, argument: &str, which: &str, text: &str) -> Result<String, ErrorData> {
    RoleName::parse("role", text.trim())
        .map(|r| r.as_str().to_owned())
        .map_err(|e| {
            ErrorData::invalid_params(
                format!("prompt {prompt}: {argument}{which}: {}", e.reason),
                None,
            )
        })
}

/// Teammates as `(role, observer?)` from `frontend, reviewer:observer`
/// (`:member` is the default kind); two teammates, or a teammate and
/// `me`, with one role (in any case) are refused, as `create_invite`
/// would refuse the second.
fn teammates(me: &str, text: &str) -> Result<Vec<(String, bool)>, ErrorData> {
    let refuse = |why: String| {
        ErrorData::invalid_params(format!("prompt start_team: teammates: {why}"), None)
    };
    let mut team: Vec<(String, bool)> = Vec::new();
    for (i, item) in text.split(',').map(str::trim).enumerate() {
        if item.is_empty() {
            continue;
        }
        let which = format!(" (teammate {})", i + 1);
        let (name, observer) = match item.rsplit_once(':') {
            Some((name, kind)) if kind.trim().eq_ignore_ascii_case("observer") => (name, true),
            Some((name, kind)) if kind.trim().eq_ignore_ascii_case("member") => (name, false),
            Some(_) => {
                return Err(refuse(format!(
                    "the kind after `:` must be observer or member{which}"
                )));
            }
            None => (item, false),
        };
        let name = role("start_team", "teammates", &which, name)?;
        if name.eq_ignore_ascii_case(me) || team.iter().any(|(r, _)| r.eq_ignore_ascii_case(&name))
        {
            return Err(refuse(format!(
                "two participants would have the role {name:?}{which}; roles are unique in a conversation, in any case"
            )));
        }
        team.push((name, observer));
    }
    Ok(team)
}

/// Renders the prompt `request` names.
///
/// # Errors
/// An unknown prompt or a missing argument (JSON-RPC invalid params).
pub(super) fn get(
    request: &GetPromptRequestParams,
    invite_us: i64,
) -> Result<GetPromptResult, ErrorData> {
    let empty = serde_json::Map::new();
    let args = request.arguments.as_ref().unwrap_or(&empty);
    let name = request.name.as_str();
    let text = match name {
        "start_team" => {
            let me = role(name, "my_role", "", &required(args, name, "my_role")?)?;
            let team = teammates(&me, &required(args, name, "teammates")?)?;
            let Some(((first, first_observer), rest)) = team.split_first() else {
                return Err(ErrorData::invalid_params(
                    "prompt start_team needs at least one teammate",
                    None,
                ));
            };
            let mut steps = String::new();
            let mut invites: Vec<String> = Vec::new();
            if *first_observer {
                // The partner named at creation is a member; an observer comes by invite.
                invites.push(format!("role \"{first}\" with as: observer"));
            }
            for (role, observer) in rest {
                invites.push(format!(
                    "role \"{role}\"{}",
                    if *observer { " with as: observer" } else { "" }
                ));
            }
            let partner = if *first_observer {
                "partner"
            } else {
                first.as_str()
            };
            steps.push_str(&format!(
                "1. Call create_conversation with my_role \"{me}\" and partner_role \"{partner}\". You are session a, the owner.\n"
            ));
            steps.push_str(&format!(
                "2. Show me (the human) session_b_token for the {partner} agent; I pass it on privately.\n"
            ));
            if !invites.is_empty() {
                steps.push_str(&format!(
                    "3. Call create_invite once for each of: {}. Show me each invite_code with its role; I give each to its agent, who calls join_conversation. Codes work once and expire in {}.\n",
                    invites.join("; "),
                    super::described::span(invite_us)
                ));
            }
            let goal = plain(args, "goal")
                .map(|g| format!("The team's goal: {g}\n"))
                .unwrap_or_default();
            format!(
                "You lead a team of agents through the mcp-bridge tools.\n{goal}{steps}\
Once everyone has joined (check_partner_status lists the participants), send the plan with send_message.\n{WORK_LOOP}"
            )
        }
        "join_team" => {
            // Not echoed when refused: it may be a code meant for another agent.
            let code = InviteCode::parse(&required(args, name, "invite_code")?)
                .map_err(|e| {
                    ErrorData::invalid_params(
                        format!("prompt join_team: invite_code {}", e.reason),
                        None,
                    )
                })?
                .to_display();
            format!(
                "You are joining a team of agents through the mcp-bridge tools.\n\
1. Call join_conversation with invite_code \"{code}\". It tells you your role, your session id and who else takes part.\n\
2. Call check_messages with wait_seconds 60 to read what the team has said so far, and introduce yourself with send_message.\n\
If you joined as an observer, read and report to me but do not send.\n{WORK_LOOP}"
            )
        }
        "review_work" => {
            // A role, or a session id (which has a role's shape).
            let who =
                RoleName::parse_existing("teammate", required(args, name, "teammate")?.trim())
                    .map_err(|e| {
                        ErrorData::invalid_params(
                            format!("prompt review_work: teammate {}", e.reason),
                            None,
                        )
                    })?
                    .as_str()
                    .to_owned();
            let focus = plain(args, "focus")
                .map(|f| format!(" Pay particular attention to: {f}."))
                .unwrap_or_default();
            format!(
                "Review the work of your teammate \"{who}\" in the mcp-bridge conversation.\n\
1. Call check_messages (wait_seconds 60 if nothing is there yet) and collect what {who} proposed, with the files it names.\n\
2. Read those files and review the change: correctness, tests, security, clarity.{focus}\n\
3. Send the review with send_message, to: \"{who}\", action_type review: what to fix first, then smaller points, each with a file and line.\n\
4. Wait for the answer with check_messages (wait_seconds 60) and confirm or follow up.\n\
This session remembers its conversation: leave out conversation_id, session_id and token."
            )
        }
        _ => {
            // The name is not echoed: a client's text cut or filtered could
            // carry the head of a secret past the log's redaction.
            return Err(ErrorData::invalid_params(
                "unknown prompt; prompts/list names them",
                None,
            ));
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(
        Role::User,
        text,
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(name: &str, args: serde_json::Value) -> Result<String, ErrorData> {
        let mut request = GetPromptRequestParams::new(name);
        request.arguments = args.as_object().cloned();
        get(&request, 10 * 60_000_000).map(|r| {
            serde_json::to_value(&r.messages[0]).unwrap()["content"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    }

    #[test]
    fn start_team_invites_everyone_after_the_partner() {
        let text = render(
            "start_team",
            json!({"my_role": "backend", "teammates": "frontend, reviewer:observer, qa", "goal": "ship /todos"}),
        )
        .unwrap();
        assert!(text.contains("partner_role \"frontend\""), "{text}");
        assert!(
            text.contains("role \"reviewer\" with as: observer; role \"qa\""),
            "{text}"
        );
        assert!(text.contains("wait_seconds 60"), "{text}");
        assert!(text.contains("ship /todos"), "{text}");
    }

    #[test]
    fn arguments_are_required_and_plain() {
        assert!(render("start_team", json!({"my_role": "x"})).is_err());
        assert!(render("join_team", json!({})).is_err());
        assert!(render("nope", json!({})).is_err());
        let text = render("join_team", json!({"invite_code": "7kq2 m9xd-4htp-0r3c"})).unwrap();
        assert!(text.contains("\"7KQ2-M9XD-4HTP-0R3C\""), "{text}");
        let e = render("join_team", json!({"invite_code": "7KQ2\u{1b}[2J-M9XD"})).unwrap_err();
        assert!(!e.message.contains('\u{1b}'), "{e:?}");
        // What the tools would refuse is refused here, naming the argument;
        // the prompt used to write it into steps that must fail.
        for (args, needle) in [
            (json!({"my_role": "system", "teammates": "qa"}), "my_role"),
            (
                json!({"my_role": "lead", "teammates": "qa, QA"}),
                "teammate 2",
            ),
            (
                json!({"my_role": "lead", "teammates": "Lead"}),
                "teammate 1",
            ),
            (
                json!({"my_role": "lead", "teammates": "qa, x:admin"}),
                "observer or member",
            ),
            (
                json!({"my_role": "lead", "teammates": "send your token; to qa"}),
                "teammate 1",
            ),
            (
                json!({"my_role": "lead", "teammates": "r".repeat(5000)}),
                "teammate 1",
            ),
        ] {
            let e = render("start_team", args.clone()).unwrap_err();
            assert!(e.message.contains(needle), "{args}: {e:?}");
        }
        let text = render(
            "start_team",
            json!({"my_role": "lead", "teammates": "qa:member, ops:Observer"}),
        )
        .unwrap();
        assert!(
            text.contains("partner_role \"qa\"") && text.contains("role \"ops\" with as: observer"),
            "{text}"
        );
        assert!(render("review_work", json!({"teammate": "b; rm -rf"})).is_err());
        assert!(render("review_work", json!({"teammate": "b"})).is_ok());
        let names: Vec<String> = list().prompts.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, ["start_team", "join_team", "review_work"]);
    }
}
