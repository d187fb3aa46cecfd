package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Response of PublishToIoTCore (no fields). */
public class PublishToIoTCoreResponse implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#PublishToIoTCoreResponse";

    public PublishToIoTCoreResponse() {}

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublishToIoTCoreResponse;
    }

    @Override
    public int hashCode() {
        return PublishToIoTCoreResponse.class.hashCode();
    }

    @Override
    public String toString() {
        return "PublishToIoTCoreResponse{}";
    }
}
