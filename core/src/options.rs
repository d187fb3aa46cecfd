//! Option values that come from users (bindings, the CLI, configuration files): one conversion each, with one
//! error, so every language refuses the same bad value with the same words.

use crate::{Error, ErrorKind, Result};
use std::time::Duration;

/// The longest duration accepted (about 31 years): longer ones are as good as "never" and would overflow
/// deadline arithmetic.
const MAX_SECONDS: f64 = 1e9;

fn invalid(what: &str, shown: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("{what} must be a positive, finite number of seconds, got {shown}"),
    )
}

/// A timeout or interval given in seconds: positive and finite (refused with `InvalidArgument` otherwise),
/// capped at about 31 years.
pub fn duration_from_secs(value: f64, what: &str) -> Result<Duration> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value.min(MAX_SECONDS)))
    } else {
        Err(invalid(what, value))
    }
}

/// [`duration_from_secs`] for a value given in milliseconds (the error still speaks in seconds).
pub fn duration_from_millis(value: i64, what: &str) -> Result<Duration> {
    if value > 0 {
        Ok(Duration::from_millis(value as u64).min(Duration::from_secs_f64(MAX_SECONDS)))
    } else {
        Err(invalid(what, value as f64 / 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_durations_get_one_message() {
        assert_eq!(
            duration_from_secs(0.25, "t").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            duration_from_millis(250, "t").unwrap(),
            Duration::from_millis(250)
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = duration_from_secs(bad, "timeout").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().starts_with("timeout must be a positive"), "{e}");
        }
        assert_eq!(
            duration_from_secs(-1.0, "timeout").unwrap_err().message(),
            duration_from_millis(-1000, "timeout")
                .unwrap_err()
                .message()
        );
        assert_eq!(
            duration_from_secs(1e300, "t").unwrap(),
            Duration::from_secs(1_000_000_000)
        );
    }
}
