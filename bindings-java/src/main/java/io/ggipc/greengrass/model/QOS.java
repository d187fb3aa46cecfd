package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** MQTT quality of service; the wire values are the strings {@code "0"} and {@code "1"}. */
public enum QOS implements EventStreamJsonMessage {
    AT_MOST_ONCE("0"),
    AT_LEAST_ONCE("1");

    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#QOS";

    final String value;

    QOS(String value) {
        this.value = value;
    }

    public String getValue() {
        return value;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    /** The constant with this wire value ({@code "0"} or {@code "1"}), or {@code null}. */
    public static QOS get(String value) {
        for (QOS q : values()) {
            if (q.value.equals(value)) {
                return q;
            }
        }
        return null;
    }
}
