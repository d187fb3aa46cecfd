//! Connection options from a binding, and timeouts in a language's units.

use std::time::Duration;

use ggipc::{ClientBuilder, ReconnectPolicy, Result};

/// The name every binding gives the connect timeout in its errors.
pub const CONNECT_TIMEOUT: &str = "connect timeout";
/// The name every binding gives the operation timeout in its errors.
pub const OPERATION_TIMEOUT: &str = "operation timeout";

/// Connection settings as a binding receives them. `None` means "not given": the core's default (10 s
/// timeouts, no reconnect, 10 000 queued events per subscription) or, for the socket path and the auth token,
/// the component's environment (`AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`, `SVCUID`). An empty
/// socket path or token counts as not given, as an empty environment variable does.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub socket_path: Option<String>,
    pub auth_token: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub operation_timeout: Option<Duration>,
    /// Reconnect with the core's default backoff ([`ReconnectPolicy::default`]).
    pub reconnect: bool,
    /// Events buffered per subscription for a slow consumer.
    pub subscription_queue: Option<usize>,
}

impl Settings {
    /// The core client builder for these settings.
    pub fn builder(&self) -> ClientBuilder {
        let mut b = ggipc::Client::builder();
        if let Some(p) = self.socket_path.as_ref().filter(|p| !p.is_empty()) {
            b = b.socket_path(p);
        }
        if let Some(t) = self.auth_token.as_ref().filter(|t| !t.is_empty()) {
            b = b.auth_token(t.clone());
        }
        if let Some(t) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(t) = self.operation_timeout {
            b = b.operation_timeout(t);
        }
        if self.reconnect {
            b = b.reconnect(ReconnectPolicy::default());
        }
        if let Some(n) = self.subscription_queue {
            b = b.subscription_queue(n);
        }
        b
    }
}

/// A timeout given in milliseconds, where 0 means "not given" (`None`); a negative one is refused with the
/// core's message ([`ggipc::options::duration_from_millis`]).
pub fn millis(ms: i64, what: &str) -> Result<Option<Duration>> {
    if ms == 0 {
        return Ok(None);
    }
    ggipc::options::duration_from_millis(ms, what).map(Some)
}

/// A timeout given in seconds (positive and finite, with the core's message otherwise).
pub fn seconds(s: f64, what: &str) -> Result<Duration> {
    ggipc::options::duration_from_secs(s, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_zero_is_the_default_and_negative_is_refused_with_the_cores_words() {
        assert_eq!(millis(0, OPERATION_TIMEOUT).ok(), Some(None));
        assert_eq!(
            millis(1500, OPERATION_TIMEOUT).ok(),
            Some(Some(Duration::from_millis(1500)))
        );
        let e = millis(-1000, OPERATION_TIMEOUT)
            .err()
            .map(|e| e.message().to_string());
        assert_eq!(
            e.as_deref(),
            Some("operation timeout must be a positive, finite number of seconds, got -1")
        );
        let s = seconds(-1.0, OPERATION_TIMEOUT)
            .err()
            .map(|e| e.message().to_string());
        assert_eq!(s, e, "seconds and milliseconds give one message");
    }

    #[test]
    fn empty_socket_and_token_fall_back_to_the_environment_rule() {
        let s = Settings {
            socket_path: Some(String::new()),
            auth_token: Some(String::new()),
            ..Settings::default()
        };
        // Same as not giving them: the builder resolves from the environment (which this test leaves alone,
        // so compare the builder's settings instead of connecting).
        assert_eq!(
            format!("{:?}", s.builder()),
            format!("{:?}", Settings::default().builder())
        );
    }
}
