package io.ggipc.eventstreamrpc.model;

/** A message of the Greengrass IPC model: every request, response, event and modeled error. */
public interface EventStreamJsonMessage {
    /** The Smithy shape id carried in the {@code service-model-type} header, e.g. {@code aws.greengrass#IoTCoreMessage}. */
    String getApplicationModelType();

    /** Whether this is the empty placeholder value of its type. */
    default boolean isVoid() {
        return false;
    }
}
