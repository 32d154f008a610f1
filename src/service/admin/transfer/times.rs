//! The times an import file may hold: what the tools could have written by
//! now. A time in the future, or before what it follows, is refused rather
//! than stored: a heartbeat dated 2999 showed its participant alive forever
//! and no later real status could replace it, and an expiry 973 years away
//! kept a conversation (and its tokens) alive past every `cleanup`.

use super::{MAX_IMPORTED_MICROS, MIN_IMPORTED_MICROS};
use crate::domain::Timestamp;

/// How far in the future a time may lie: the clock of the bridge that
/// wrote the file may run a little ahead of this one.
const CLOCK_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;

/// What a file's times are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportClock {
    /// The time of the import.
    pub now: Timestamp,
    /// How long this bridge lets a conversation live
    /// (`conversation_ttl_minutes`), in microseconds.
    pub ttl_us: i64,
}

impl ImportClock {
    /// The current time, with conversations living `ttl_us`.
    pub fn now(ttl_us: i64) -> Self {
        Self {
            now: Timestamp::now(),
            ttl_us,
        }
    }

    /// Refuses `at` as `field` when it lies before `since` (the time that
    /// `since_what` names: a removal after joining, a message after the
    /// conversation was created) or ahead of now, each by more than clock
    /// skew: on PostgreSQL the two may come from the clocks of two hosts
    /// (created on one, joined a moment later on another a little behind),
    /// and a genuine backup must not be refused for it.
    pub fn check(
        self,
        field: &str,
        at: Timestamp,
        since: Timestamp,
        since_what: &str,
    ) -> Result<(), String> {
        if at < since.plus_micros(-CLOCK_SKEW_MICROS) {
            return Err(format!("`{field}` is before {since_what}"));
        }
        self.not_future(field, at)
    }

    /// Refuses `at` as `field` when it is ahead of now by more than clock skew.
    pub fn not_future(self, field: &str, at: Timestamp) -> Result<(), String> {
        if at > self.now.plus_micros(CLOCK_SKEW_MICROS) {
            return Err(format!("`{field}` is in the future"));
        }
        Ok(())
    }

    /// Refuses an expiry later than a conversation created now would get
    /// here (plus clock skew). A file from a bridge with a longer
    /// `conversation_ttl_minutes` needs the same setting here to import.
    pub fn check_expiry(self, expires_at: Timestamp) -> Result<(), String> {
        let latest = self
            .now
            .plus_micros(self.ttl_us)
            .plus_micros(CLOCK_SKEW_MICROS);
        if expires_at > latest {
            // Minutes as the setting is written (180, or 0.5).
            let minutes = self.ttl_us as f64 / 60_000_000.0;
            return Err(format!(
                "`expires_at` is more than conversation_ttl_minutes ({minutes}) from now, longer than this bridge lets a conversation live (to import it, set conversation_ttl_minutes as high as the bridge it came from)"
            ));
        }
        Ok(())
    }
}

/// `text` as the time `field`, within the years 2000 to 2999.
pub fn parse(field: &'static str, text: &str) -> Result<Timestamp, String> {
    let t = Timestamp::parse_rfc3339(text)
        .map_err(|_| format!("`{field}` is not an RFC 3339 time: {text:?}"))?;
    if !(MIN_IMPORTED_MICROS..MAX_IMPORTED_MICROS).contains(&t.as_micros()) {
        return Err(format!(
            "`{field}` {text:?} is outside the years 2000 to 2999"
        ));
    }
    Ok(t)
}
