package io.ggipc.eventstreamrpc;

/**
 * Receives the events of a streaming operation. Calls for one stream are made in order, one at a time, on a ggipc
 * dispatcher thread (or on the executor chosen for a {@code GreengrassCoreIPCClientV2}); a handler may call the client
 * again, blocking calls included.
 *
 * @param <StreamEventType> the event type, e.g. {@code IoTCoreMessage}
 */
public interface StreamResponseHandler<StreamEventType> {
    /** One event of the stream. */
    void onStreamEvent(StreamEventType streamEvent);

    /**
     * The server reported an error on the stream, or the connection was lost.
     *
     * @return {@code true} to close the stream, {@code false} to keep it open
     */
    boolean onStreamError(Throwable error);

    /** The stream is closed; no further calls follow. */
    void onStreamClosed();
}
