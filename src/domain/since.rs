//! "Since when" as a human types it: an RFC 3339 time, a UTC date, or an
//! age before now (`30m`, `2h`, `7d`). Used by `mcp-bridge audit --since`
//! and the console's audit filter, so both accept the same forms.

use super::Timestamp;

/// Parses `text` into an instant, ages counted back from `now`.
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        return Ok(t);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(Timestamp::from_micros(zoned.timestamp().as_microsecond()));
    }
    let bad = || {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), a date (2026-01-31) or an age (30m, 2h, 7d)"
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let micros = n.checked_mul(seconds * 1_000_000).ok_or_else(bad)?;
    Ok(now.plus_micros(-micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_dates_and_ages() {
        let now = Timestamp::parse_rfc3339("2026-01-31T12:00:00Z").unwrap();
        let at = |t: &str| parse_since(t, now).unwrap().to_rfc3339();
        assert_eq!(at("2h"), "2026-01-31T10:00:00.000000Z");
        assert_eq!(at("2026-01-30"), "2026-01-30T00:00:00.000000Z");
        assert_eq!(
            at("2026-01-31T11:00:00+01:00"),
            "2026-01-31T10:00:00.000000Z"
        );
        for bad in ["", "h", "2y", "-1h", "99999999999999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad:?}");
        }
    }
}
