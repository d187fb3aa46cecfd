//! The nucleus' own representation of an MQTT application message, shared by the embedded broker, the bridge and
//! the spooler, with conversions to the rumqttc packet types and to the Greengrass model.

use bytes::Bytes;

/// MQTT 5 publish properties that travel end to end (docs/PROTOCOL.md §4.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Props {
    /// `Some(true)` = UTF-8 payload (payload format indicator 1).
    pub payload_format_utf8: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl Props {
    pub fn is_empty(&self) -> bool {
        *self == Props::default()
    }
}

/// One application message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: Bytes,
    /// 0 or 1 (QoS 2 is accepted from MQTT clients and handled as 1 downstream).
    pub qos: u8,
    pub retain: bool,
    pub props: Props,
}

impl Msg {
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>, qos: u8) -> Self {
        Msg {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            ..Default::default()
        }
    }

    /// Approximate memory cost, used by the spooler's byte accounting.
    pub fn cost(&self) -> usize {
        let p = &self.props;
        self.topic.len()
            + self.payload.len()
            + p.content_type.as_ref().map_or(0, String::len)
            + p.response_topic.as_ref().map_or(0, String::len)
            + p.correlation_data.as_ref().map_or(0, Bytes::len)
            + p.user_properties
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    pub fn to_v5_properties(&self) -> Option<rumqttc::v5::mqttbytes::v5::PublishProperties> {
        if self.props.is_empty() {
            return None;
        }
        let p = &self.props;
        Some(rumqttc::v5::mqttbytes::v5::PublishProperties {
            payload_format_indicator: p.payload_format_utf8.map(u8::from),
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: None,
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.clone(),
            user_properties: p.user_properties.clone(),
            subscription_identifiers: Vec::new(),
            content_type: p.content_type.clone(),
        })
    }

    pub fn props_from_v5(props: Option<&rumqttc::v5::mqttbytes::v5::PublishProperties>) -> Props {
        match props {
            None => Props::default(),
            Some(p) => Props {
                payload_format_utf8: p.payload_format_indicator.map(|v| v == 1),
                message_expiry_interval: p.message_expiry_interval,
                content_type: p.content_type.clone(),
                response_topic: p.response_topic.clone(),
                correlation_data: p.correlation_data.clone(),
                user_properties: p.user_properties.clone(),
            },
        }
    }
}
