package io.ggipc.eventstreamrpc;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.concurrent.CompletableFuture;

/** What an operation call returns: the response future and control of the operation's stream. */
public interface StreamResponse<ResponseType extends EventStreamJsonMessage, StreamRequestType extends EventStreamJsonMessage>
        extends StreamEventPublisher<StreamRequestType> {
    /** Completes once the request has been written; ggipc completes it together with the response. */
    CompletableFuture<Void> getRequestFlushFuture();

    /** The operation's response, or its error as the cause of an {@link java.util.concurrent.ExecutionException}. */
    CompletableFuture<ResponseType> getResponse();

    /** Whether the stream is closed. */
    boolean isClosed();
}
