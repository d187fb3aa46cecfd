//! MQTT reason codes by number, with the names the nucleus reports them by (MQTT 5 §2.4; the names follow the
//! AWS CRT's enum constants, e.g. `PACKET_IDENTIFIER_IN_USE`, which the Java nucleus puts in its messages).
//! Our messages take names from this table, never from a library type's `Debug` output.

use rumqttc::v5::mqttbytes::v5;

/// Every MQTT 5 reason code ggipc can report (the ambiguous 0x00 reads as SUCCESS).
const NAMES: &[(u8, &str)] = &[
    (0x00, "SUCCESS"),
    (0x01, "GRANTED_QOS_1"),
    (0x02, "GRANTED_QOS_2"),
    (0x04, "DISCONNECT_WITH_WILL_MESSAGE"),
    (0x10, "NO_MATCHING_SUBSCRIBERS"),
    (0x11, "NO_SUBSCRIPTION_EXISTED"),
    (0x80, "UNSPECIFIED_ERROR"),
    (0x81, "MALFORMED_PACKET"),
    (0x82, "PROTOCOL_ERROR"),
    (0x83, "IMPLEMENTATION_SPECIFIC_ERROR"),
    (0x84, "UNSUPPORTED_PROTOCOL_VERSION"),
    (0x85, "CLIENT_IDENTIFIER_NOT_VALID"),
    (0x86, "BAD_USERNAME_OR_PASSWORD"),
    (0x87, "NOT_AUTHORIZED"),
    (0x88, "SERVER_UNAVAILABLE"),
    (0x89, "SERVER_BUSY"),
    (0x8A, "BANNED"),
    (0x8B, "SERVER_SHUTTING_DOWN"),
    (0x8C, "BAD_AUTHENTICATION_METHOD"),
    (0x8D, "KEEP_ALIVE_TIMEOUT"),
    (0x8E, "SESSION_TAKEN_OVER"),
    (0x8F, "TOPIC_FILTER_INVALID"),
    (0x90, "TOPIC_NAME_INVALID"),
    (0x91, "PACKET_IDENTIFIER_IN_USE"),
    (0x92, "PACKET_IDENTIFIER_NOT_FOUND"),
    (0x93, "RECEIVE_MAXIMUM_EXCEEDED"),
    (0x94, "TOPIC_ALIAS_INVALID"),
    (0x95, "PACKET_TOO_LARGE"),
    (0x96, "MESSAGE_RATE_TOO_HIGH"),
    (0x97, "QUOTA_EXCEEDED"),
    (0x98, "ADMINISTRATIVE_ACTION"),
    (0x99, "PAYLOAD_FORMAT_INVALID"),
    (0x9A, "RETAIN_NOT_SUPPORTED"),
    (0x9B, "QOS_NOT_SUPPORTED"),
    (0x9C, "USE_ANOTHER_SERVER"),
    (0x9D, "SERVER_MOVED"),
    (0x9E, "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED"),
    (0x9F, "CONNECTION_RATE_EXCEEDED"),
    (0xA0, "MAXIMUM_CONNECT_TIME"),
    (0xA1, "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED"),
    (0xA2, "WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED"),
];

/// The name of a reason code (`"UNKNOWN"` for a number the specification does not define).
pub fn name(code: u8) -> &'static str {
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("UNKNOWN", |(_, n)| n)
}

/// `NAME (0xNN)`, for messages.
pub fn describe(code: u8) -> String {
    format!("{} (0x{code:02X})", name(code))
}

/// The number of a SUBACK reason code.
pub fn suback_code(c: &v5::SubscribeReasonCode) -> u8 {
    use v5::SubscribeReasonCode as R;
    match c {
        R::Success(q) => *q as u8,
        R::Failure | R::Unspecified => 0x80,
        R::ImplementationSpecific => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicFilterInvalid => 0x8F,
        R::PkidInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::SharedSubscriptionsNotSupported => 0x9E,
        R::SubscriptionIdNotSupported => 0xA1,
        R::WildcardSubscriptionsNotSupported => 0xA2,
    }
}

/// The number of a PUBACK reason code.
pub fn puback_code(r: &v5::PubAckReason) -> u8 {
    use v5::PubAckReason as R;
    match r {
        R::Success => 0x00,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

/// The number of an MQTT 5 CONNACK reason code (the 3.1.1-only variants map to their MQTT 5 equivalents).
pub fn connack_code(c: &v5::ConnectReturnCode) -> u8 {
    use v5::ConnectReturnCode as R;
    match c {
        R::Success => 0x00,
        R::UnspecifiedError => 0x80,
        R::MalformedPacket => 0x81,
        R::ProtocolError => 0x82,
        R::ImplementationSpecificError => 0x83,
        R::UnsupportedProtocolVersion | R::RefusedProtocolVersion => 0x84,
        R::ClientIdentifierNotValid | R::BadClientId => 0x85,
        R::BadUserNamePassword => 0x86,
        R::NotAuthorized => 0x87,
        R::ServerUnavailable | R::ServiceUnavailable => 0x88,
        R::ServerBusy => 0x89,
        R::Banned => 0x8A,
        R::BadAuthenticationMethod => 0x8C,
        R::TopicNameInvalid => 0x90,
        R::PacketTooLarge => 0x95,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
        R::RetainNotSupported => 0x9A,
        R::QoSNotSupported => 0x9B,
        R::UseAnotherServer => 0x9C,
        R::ServerMoved => 0x9D,
        R::ConnectionRateExceeded => 0x9F,
    }
}

/// An MQTT 3.1.1 CONNACK return code's name (3.1.1 §3.2.2.3).
pub fn connack4_name(c: &rumqttc::mqttbytes::v4::ConnectReturnCode) -> &'static str {
    use rumqttc::mqttbytes::v4::ConnectReturnCode as R;
    match c {
        R::Success => "ACCEPTED",
        R::RefusedProtocolVersion => "UNACCEPTABLE_PROTOCOL_VERSION",
        R::BadClientId => "IDENTIFIER_REJECTED",
        R::ServiceUnavailable => "SERVER_UNAVAILABLE",
        R::BadUserNamePassword => "BAD_USERNAME_OR_PASSWORD",
        R::NotAuthorized => "NOT_AUTHORIZED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_table() {
        assert_eq!(name(0x91), "PACKET_IDENTIFIER_IN_USE");
        assert_eq!(describe(0x87), "NOT_AUTHORIZED (0x87)");
        assert_eq!(name(0x42), "UNKNOWN");
        assert_eq!(
            name(suback_code(&v5::SubscribeReasonCode::PkidInUse)),
            "PACKET_IDENTIFIER_IN_USE"
        );
        assert_eq!(
            name(puback_code(&v5::PubAckReason::QuotaExceeded)),
            "QUOTA_EXCEEDED"
        );
        assert_eq!(name(connack_code(&v5::ConnectReturnCode::Banned)), "BANNED");
        let mut seen = std::collections::HashSet::new();
        assert!(
            NAMES.iter().all(|(c, _)| seen.insert(*c)),
            "a code is listed twice"
        );
    }
}
