package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** MQTT 5 payload format indicator; the wire values are {@code "0"} (bytes) and {@code "1"} (UTF-8). */
public enum PayloadFormat implements EventStreamJsonMessage {
    BYTES("0"),
    UTF8("1");

    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#PayloadFormat";

    final String value;

    PayloadFormat(String value) {
        this.value = value;
    }

    public String getValue() {
        return value;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    /** The constant with this wire value, or {@code null}. */
    public static PayloadFormat get(String value) {
        for (PayloadFormat f : values()) {
            if (f.value.equals(value)) {
                return f;
            }
        }
        return null;
    }
}
