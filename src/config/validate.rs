//! The raw settings checked and turned into a [`Config`]: every range and
//! shape rule, each error naming its key.

use std::path::PathBuf;

use super::{
    Config, ConfigError, DEFAULT_LIMITS, RawConfig, RawLimits, RawResourceLimits, RawTeams,
    RawYolo, http,
};
use crate::ratelimit::Limits;
use crate::redact::{CustomPattern, RedactionSettings, Redactor};
use crate::service::{BridgeSettings, ResourceLimits, TeamSettings, ToolLimits, YoloSettings};
use crate::store::sqlite::Durability;

pub(super) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let ttl = raw.conversation_ttl_minutes;
    if !ttl.is_finite() || ttl <= 0.0 || ttl > crate::domain::MAX_TTL_MINUTES {
        return Err(invalid(
            "conversation_ttl_minutes",
            "must be a positive number of minutes (at most ten years)",
        ));
    }
    if raw.heartbeat_timeout_s == 0 {
        return Err(invalid("heartbeat_timeout_s", "must be at least 1"));
    }
    let durability = match raw.durability.as_str() {
        "normal" => Durability::Normal,
        "full" => Durability::Full,
        _ => return Err(invalid("durability", "must be \"normal\" or \"full\"")),
    };
    // The value becomes `mcp_bridge=LEVEL` (see `cli::logging`): it must be a
    // level. Read as a whole filter, `bogus` passed as a target name and an
    // empty value turned on everything.
    if !["off", "error", "warn", "info", "debug", "trace"]
        .iter()
        .any(|l| raw.log_level.eq_ignore_ascii_case(l))
    {
        return Err(invalid(
            "log_level",
            "must be one of off, error, warn, info, debug, trace",
        ));
    }
    let http = http::validate(raw.http.clone(), raw.rate_limits.enabled)?;
    let rate_limits = if raw.rate_limits.enabled {
        let r = &raw.rate_limits;
        Some(ToolLimits {
            send_to_partner: limits(
                "send_to_partner",
                &r.send_to_partner,
                DEFAULT_LIMITS.send_to_partner,
            )?,
            check_messages: limits(
                "check_messages",
                &r.check_messages,
                DEFAULT_LIMITS.check_messages,
            )?,
            update_my_status: limits(
                "update_my_status",
                &r.update_my_status,
                DEFAULT_LIMITS.update_my_status,
            )?,
            check_partner_status: limits(
                "check_partner_status",
                &r.check_partner_status,
                DEFAULT_LIMITS.check_partner_status,
            )?,
            unauthenticated: limits(
                "unauthenticated",
                &r.unauthenticated,
                DEFAULT_LIMITS.unauthenticated,
            )?,
            join_conversation: limits(
                "join_conversation",
                &r.join_conversation,
                DEFAULT_LIMITS.join_conversation,
            )?,
            execute_command: limits(
                "execute_command",
                &r.execute_command,
                DEFAULT_LIMITS.execute_command,
            )?,
            create_invite: limits(
                "create_invite",
                &r.create_invite,
                DEFAULT_LIMITS.create_invite,
            )?,
            overview: limits("overview", &r.overview, DEFAULT_LIMITS.overview)?,
        })
    } else {
        None
    };
    let redaction = RedactionSettings {
        patterns: raw
            .redaction
            .patterns
            .into_iter()
            .map(|p| CustomPattern {
                name: p.name,
                regex: p.regex,
                placeholder: p.placeholder,
            })
            .collect(),
        allow: raw.redaction.allow,
    };
    // Only user additions need compiling here; the built-in rules are tested.
    if !redaction.patterns.is_empty() || !redaction.allow.is_empty() {
        Redactor::new(&redaction).map_err(|e| invalid("redaction", e.to_string()))?;
    }
    Ok(Config {
        bridge: BridgeSettings {
            conversation_ttl_us: (ttl * 60_000_000.0) as i64,
            heartbeat_timeout_s: raw.heartbeat_timeout_s,
            rate_limits,
            yolo: yolo(raw.yolo)?,
            limits: resource_limits(&raw.limits)?,
            audit_retention_us: match raw.audit.retention_days {
                None => None,
                Some(days) if days.is_finite() && days > 0.0 && days <= 365_000.0 => {
                    Some((days * 86_400_000_000.0) as i64)
                }
                Some(_) => {
                    return Err(invalid(
                        "audit.retention_days",
                        "must be a positive number of days (leave it out to keep audit records forever)",
                    ));
                }
            },
            teams: teams(&raw.teams)?,
        },
        durability,
        log_level: raw.log_level,
        redaction,
        key_file: raw.key_file.map(key_file).transpose()?,
        http,
    })
}

/// Checks `key_file`: an absolute path, or one under the home directory
/// written `~/…`. A relative path is refused: it would name a different
/// file for each directory a server or command is started from.
fn key_file(path: PathBuf) -> Result<PathBuf, ConfigError> {
    let text = path.to_string_lossy();
    if let Some(rest) = text.strip_prefix("~/") {
        let home = dirs::home_dir()
            .ok_or_else(|| invalid("key_file", "uses ~ but the home directory is unknown"))?;
        return Ok(home.join(rest));
    }
    if !path.is_absolute() || path.file_name().is_none() {
        return Err(invalid(
            "key_file",
            "must be the absolute path of a file (or ~/…), e.g. /secure/mcp-bridge/bridge.key",
        ));
    }
    Ok(path)
}

fn resource_limits(raw: &RawResourceLimits) -> Result<ResourceLimits, ConfigError> {
    for (key, value) in [
        ("conversations_per_hour", raw.conversations_per_hour),
        ("max_pending_messages", raw.max_pending_messages),
        ("max_long_polls", raw.max_long_polls),
        ("max_database_mb", raw.max_database_mb),
    ] {
        if value == 0 {
            return Err(invalid(&format!("limits.{key}"), "must be at least 1"));
        }
    }
    Ok(ResourceLimits {
        conversations_per_hour: raw.conversations_per_hour,
        max_pending_messages: raw.max_pending_messages,
        max_long_polls: raw.max_long_polls,
        max_database_mb: raw.max_database_mb,
    })
}

/// The longest an invite code may live, in minutes.
const MAX_INVITE_MINUTES: f64 = 1440.0;

fn teams(raw: &RawTeams) -> Result<TeamSettings, ConfigError> {
    let most = crate::domain::MAX_SESSIONS as u32;
    if !(2..=most).contains(&raw.max_participants) {
        return Err(invalid(
            "teams.max_participants",
            format!("must be between 2 and {most} (one session id per letter a to z)"),
        ));
    }
    // An agent may ask for at most a day (`create_invite`'s
    // `expires_minutes`); the default it gets without asking is no longer.
    if raw.invite_minutes > MAX_INVITE_MINUTES {
        return Err(invalid(
            "teams.invite_minutes",
            format!(
                "must be at most {MAX_INVITE_MINUTES} (a day, the longest create_invite allows)"
            ),
        ));
    }
    Ok(TeamSettings {
        max_participants: raw.max_participants,
        invite_ttl_us: minutes_to_us("teams.invite_minutes", raw.invite_minutes)?,
    })
}

fn minutes_to_us(key: &str, minutes: f64) -> Result<i64, ConfigError> {
    if !minutes.is_finite() || minutes <= 0.0 || minutes > crate::domain::MAX_TTL_MINUTES {
        return Err(invalid(key, "must be a positive number of minutes"));
    }
    Ok((minutes * 60_000_000.0) as i64)
}

fn yolo(raw: RawYolo) -> Result<YoloSettings, ConfigError> {
    let l = &raw.limits;
    for (key, value) in [
        ("cpu_seconds", l.cpu_seconds),
        ("memory_mb", l.memory_mb),
        ("max_processes", l.max_processes),
        ("max_file_mb", l.max_file_mb),
    ] {
        if value == 0 {
            return Err(invalid(&format!("yolo.limits.{key}"), "must be at least 1"));
        }
    }
    if !(1024..=1 << 20).contains(&raw.max_output_bytes) {
        return Err(invalid(
            "yolo.max_output_bytes",
            "must be between 1024 and 1048576",
        ));
    }
    if let Some(p) = raw.extra_ro_binds.iter().find(|p| !p.is_absolute()) {
        return Err(invalid(
            "yolo.extra_ro_binds",
            format!("{} is not an absolute path", p.display()),
        ));
    }
    Ok(YoloSettings {
        enabled: raw.enabled,
        activation_ttl_us: minutes_to_us("yolo.activation_minutes", raw.activation_minutes)?,
        approval_ttl_us: minutes_to_us("yolo.approval_minutes", raw.approval_minutes)?,
        allow_unsandboxed: raw.allow_unsandboxed,
        max_output_bytes: raw.max_output_bytes,
        limits: crate::runner::Limits {
            cpu_seconds: l.cpu_seconds,
            memory_bytes: l.memory_mb.saturating_mul(1 << 20),
            max_processes: l.max_processes,
            max_file_bytes: l.max_file_mb.saturating_mul(1 << 20),
        },
        extra_ro_binds: raw.extra_ro_binds,
        hide: Vec::new(),
    })
}

pub(super) fn limits(tool: &str, raw: &RawLimits, default: Limits) -> Result<Limits, ConfigError> {
    let pick = |window: &str, value: Option<u32>, fallback: Option<u32>| match value {
        Some(0) => Err(invalid(
            &format!("rate_limits.{tool}.{window}"),
            "must be at least 1 (set rate_limits.enabled = false to turn limits off)",
        )),
        Some(n) => Ok(Some(n)),
        None => Ok(fallback),
    };
    Ok(Limits {
        per_minute: pick("per_minute", raw.per_minute, default.per_minute)?,
        per_hour: pick("per_hour", raw.per_hour, default.per_hour)?,
        per_day: pick("per_day", raw.per_day, default.per_day)?,
    })
}
