// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A message the code under test published to "AWS IoT Core", as the nucleus received it. */
public final class Published {
    private final String topic;
    private final byte[] payload;
    private final String qos;
    private final boolean retain;
    private final String component;

    Published(String topic, byte[] payload, String qos, boolean retain, String component) {
        this.topic = topic;
        this.payload = payload;
        this.qos = qos;
        this.retain = retain;
        this.component = component;
    }

    /** The topic it was published to. */
    public String getTopic() {
        return topic;
    }

    /** A copy of the payload. */
    public byte[] getPayload() {
        return Arrays.copyOf(payload, payload.length);
    }

    /** The payload decoded as UTF-8. */
    public String getPayloadAsString() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    /** The QoS as on the wire: {@code "0"} or {@code "1"}. */
    public String getQos() {
        return qos;
    }

    public boolean isRetain() {
        return retain;
    }

    /** The name of the component that published it. */
    public String getComponent() {
        return component;
    }

    @Override
    public String toString() {
        return "Published{topic=" + topic + ", qos=" + qos + ", " + payload.length + " bytes, component=" + component + "}";
    }
}
