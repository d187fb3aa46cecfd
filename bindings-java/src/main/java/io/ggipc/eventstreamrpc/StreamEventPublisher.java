package io.ggipc.eventstreamrpc;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.concurrent.CompletableFuture;

/** The client side of an operation's stream. */
public interface StreamEventPublisher<StreamEventType extends EventStreamJsonMessage> {
    /** Sends an event on the stream; no MQTT proxy operation accepts client events, so this fails for them. */
    CompletableFuture<Void> sendStreamEvent(StreamEventType streamEvent);

    /** Closes the stream (idempotent); the future completes once the close was handed to the connection. */
    CompletableFuture<Void> closeStream();
}
