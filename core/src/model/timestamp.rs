//! Timestamps as JSON numbers of seconds since the Unix epoch (fractions allowed), as the official SDKs write
//! them (`Option<SystemTime>`); `null` reads as absent.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn serialize<S: Serializer>(v: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => {
            let secs = match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            s.serialize_f64(secs)
        }
        None => s.serialize_none(),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    let Some(secs) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if !secs.is_finite() || secs.abs() > 1e15 {
        return Err(serde::de::Error::custom(format!(
            "invalid timestamp: {secs}"
        )));
    }
    let offset = Duration::from_secs_f64(secs.abs());
    let t = if secs >= 0.0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    t.map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp: {secs}")))
}
