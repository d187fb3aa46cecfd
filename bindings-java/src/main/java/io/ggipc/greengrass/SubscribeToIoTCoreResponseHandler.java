package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.OperationResponse;
import io.ggipc.eventstreamrpc.StreamResponse;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import io.ggipc.greengrass.model.SubscribeToIoTCoreResponse;
import java.util.concurrent.CompletableFuture;

/** What {@code subscribeToIoTCore} returns: the response future and control of the operation's stream. */
public final class SubscribeToIoTCoreResponseHandler implements StreamResponse<SubscribeToIoTCoreResponse, EventStreamJsonMessage> {
    private final OperationResponse<SubscribeToIoTCoreResponse, EventStreamJsonMessage> operationResponse;

    public SubscribeToIoTCoreResponseHandler(OperationResponse<SubscribeToIoTCoreResponse, EventStreamJsonMessage> operationResponse) {
        this.operationResponse = operationResponse;
    }

    @Override
    public CompletableFuture<Void> getRequestFlushFuture() {
        return operationResponse.getRequestFlushFuture();
    }

    /**
     * Completes with the response, or fails with an {@link java.util.concurrent.ExecutionException} whose cause is
     * the modeled error ({@code UnauthorizedError}, {@code InvalidArgumentsError}, …) or the transport error.
     */
    @Override
    public CompletableFuture<SubscribeToIoTCoreResponse> getResponse() {
        return operationResponse.getResponse();
    }

    @Override
    public CompletableFuture<Void> sendStreamEvent(EventStreamJsonMessage event) {
        return operationResponse.sendStreamEvent(event);
    }

    @Override
    public CompletableFuture<Void> closeStream() {
        return operationResponse.closeStream();
    }

    @Override
    public boolean isClosed() {
        return operationResponse.isClosed();
    }
}
