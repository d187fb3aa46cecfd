package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Response of SubscribeToIoTCore (no fields). */
public class SubscribeToIoTCoreResponse implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#SubscribeToIoTCoreResponse";

    public SubscribeToIoTCoreResponse() {}

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SubscribeToIoTCoreResponse;
    }

    @Override
    public int hashCode() {
        return SubscribeToIoTCoreResponse.class.hashCode();
    }

    @Override
    public String toString() {
        return "SubscribeToIoTCoreResponse{}";
    }
}
