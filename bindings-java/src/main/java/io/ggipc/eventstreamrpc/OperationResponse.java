package io.ggipc.eventstreamrpc;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import io.ggipc.internal.NativeSubscription;
import java.util.concurrent.CompletableFuture;

/**
 * The state of one operation call: its response future and, for streaming operations, its subscription.
 * {@link #close()} closes the stream.
 */
public class OperationResponse<ResponseType extends EventStreamJsonMessage, StreamRequestType extends EventStreamJsonMessage>
        implements StreamResponse<ResponseType, StreamRequestType>, AutoCloseable {
    private final CompletableFuture<ResponseType> response;
    private final NativeSubscription subscription;
    private volatile boolean closed;

    /**
     * @param response the response future
     * @param subscription the stream of a streaming operation, or {@code null} for a request/response operation
     */
    public OperationResponse(CompletableFuture<ResponseType> response, NativeSubscription subscription) {
        this.response = response;
        this.subscription = subscription;
        if (subscription == null) {
            response.whenComplete((r, e) -> closed = true);
        }
    }

    @Override
    public final CompletableFuture<Void> getRequestFlushFuture() {
        return response.thenApply(r -> null);
    }

    @Override
    public CompletableFuture<ResponseType> getResponse() {
        return response;
    }

    @Override
    public CompletableFuture<Void> sendStreamEvent(StreamRequestType streamEvent) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        f.completeExceptionally(new UnsupportedOperationException("this operation accepts no client stream events"));
        return f;
    }

    @Override
    public CompletableFuture<Void> closeStream() {
        closed = true;
        if (subscription != null) {
            subscription.close();
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public boolean isClosed() {
        return closed || (subscription != null && subscription.isClosed());
    }

    @Override
    public void close() {
        closeStream();
    }
}
