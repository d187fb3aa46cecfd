package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.OperationResponse;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreResponse;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToIoTCoreResponse;
import io.ggipc.internal.NativeClient;
import io.ggipc.internal.NativeFuture;
import io.ggipc.internal.NativeSubscription;
import io.ggipc.internal.StreamBridge;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The V1 client: every operation returns at once with a response handler whose {@link java.util.concurrent.CompletableFuture}
 * completes with the answer. Stream handlers run in order on a ggipc dispatcher thread and may call this client
 * again, waiting on the result included.
 */
public class GreengrassCoreIPCClient implements GreengrassCoreIPC {
    private final EventStreamRPCConnection connection;
    private final Executor handlerExecutor;

    public GreengrassCoreIPCClient(EventStreamRPCConnection connection) {
        this(connection, null);
    }

    /** Runs stream handlers on {@code handlerExecutor} instead of the dispatcher thread (null = dispatcher). */
    GreengrassCoreIPCClient(EventStreamRPCConnection connection, Executor handlerExecutor) {
        this.connection = connection;
        this.handlerExecutor = handlerExecutor;
    }

    /** The connection this client uses. */
    public EventStreamRPCConnection getConnection() {
        return connection;
    }

    NativeClient nativeClient() {
        return connection.nativeClient();
    }

    @Override
    public PublishToIoTCoreResponseHandler publishToIoTCore(PublishToIoTCoreRequest request,
            Optional<StreamResponseHandler<EventStreamJsonMessage>> streamResponseHandler) {
        CompletableFuture<PublishToIoTCoreResponse> f;
        try {
            f = nativeClient().publishAsync(request);
        } catch (RuntimeException e) {
            f = new CompletableFuture<>();
            f.completeExceptionally(e);
        }
        if (streamResponseHandler != null && streamResponseHandler.isPresent()) {
            StreamResponseHandler<EventStreamJsonMessage> h = streamResponseHandler.get();
            f.whenComplete((r, e) -> h.onStreamClosed());
        }
        return new PublishToIoTCoreResponseHandler(new OperationResponse<>(f, null));
    }

    @Override
    public SubscribeToIoTCoreResponseHandler subscribeToIoTCore(SubscribeToIoTCoreRequest request,
            Optional<StreamResponseHandler<IoTCoreMessage>> streamResponseHandler) {
        StreamBridge bridge = new StreamBridge(
                streamResponseHandler == null ? null : streamResponseHandler.orElse(null), handlerExecutor);
        NativeFuture<SubscribeToIoTCoreResponse> f = new NativeFuture<>(new SubscribeToIoTCoreResponse());
        NativeSubscription sub = null;
        try {
            sub = nativeClient().subscribeAsync(request, bridge, f);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return new SubscribeToIoTCoreResponseHandler(new OperationResponse<>(f, sub));
    }

    /** Synchronous subscribe used by the V2 client: waits on the calling thread. */
    SubscribeToIoTCoreResponseHandler subscribeToIoTCoreSync(SubscribeToIoTCoreRequest request,
            StreamResponseHandler<IoTCoreMessage> handler, Executor executor) {
        StreamBridge bridge = new StreamBridge(handler, executor);
        NativeSubscription sub = nativeClient().subscribe(request, bridge);
        return new SubscribeToIoTCoreResponseHandler(
                new OperationResponse<>(CompletableFuture.completedFuture(new SubscribeToIoTCoreResponse()), sub));
    }

    /** Asynchronous subscribe with a chosen executor, used by the V2 client. */
    SubscribeToIoTCoreResponseHandler subscribeToIoTCoreAsync(SubscribeToIoTCoreRequest request,
            StreamResponseHandler<IoTCoreMessage> handler, Executor executor) {
        StreamBridge bridge = new StreamBridge(handler, executor);
        NativeFuture<SubscribeToIoTCoreResponse> f = new NativeFuture<>(new SubscribeToIoTCoreResponse());
        NativeSubscription sub = null;
        try {
            sub = nativeClient().subscribeAsync(request, bridge, f);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return new SubscribeToIoTCoreResponseHandler(new OperationResponse<>(f, sub));
    }
}
