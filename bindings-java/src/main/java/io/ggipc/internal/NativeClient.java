package io.ggipc.internal;

import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.eventstreamrpc.EventStreamRPCConnection.LifecycleHandler;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Owns one native client (one connection). Not API. Thread-safe. {@link #close()} ends the connection; the native
 * handle itself is released by a {@link Cleaner} once this object is unreachable, so a call racing with
 * {@code close()} fails cleanly instead of touching freed memory.
 */
public final class NativeClient implements AutoCloseable {
    private final long handle;
    private final ClientState state;

    /** State shared with the lifecycle callbacks (which must not keep the client reachable). */
    static final class ClientState implements Runnable {
        final long handle;
        volatile boolean closed;

        ClientState(long handle) {
            this.handle = handle;
        }

        /** Cleaner action: close and release. */
        @Override
        public void run() {
            Native.clientClose(handle);
            Native.clientFree(handle);
        }
    }

    private NativeClient(long handle, ClientState state) {
        this.handle = handle;
        this.state = state;
        Native.CLEANER.register(this, state);
    }

    /** Connects; throws the mapped error (AccessDeniedException, ConnectionFailedException, …) on failure. */
    public static NativeClient connect(EventStreamRPCConnectionConfig config, LifecycleHandler lifecycle) {
        Native.init();
        LifecycleBridge bridge = new LifecycleBridge(lifecycle);
        long h = Native.clientConnect(config.getSocketPath(), config.getAuthToken(),
                millis(config.getConnectTimeout()), millis(config.getOperationTimeout()), config.isReconnect(),
                config.getSubscriptionQueueSize() == null ? 0 : config.getSubscriptionQueueSize(), bridge);
        ClientState state = new ClientState(h);
        bridge.state = state;
        return new NativeClient(h, state);
    }

    /** A timeout for the native side: 0 ("not given") for {@code null}, the library's default. */
    private static long millis(java.time.Duration d) {
        return d == null ? 0 : d.toMillis();
    }

    public boolean isClosed() {
        return state.closed;
    }

    private void checkOpen() {
        if (state.closed) {
            throw new EventStreamClosedException("the connection is closed");
        }
    }

    /**
     * Runs a request/response operation and waits for the answer on the calling thread.
     *
     * @param operation the operation's shape id, e.g. {@code aws.greengrass#PublishToIoTCore}
     * @param request the request JSON (written by {@link Operations#body})
     * @return the response JSON, {@code null} for an empty response
     */
    public byte[] call(String operation, Operations.Body request) {
        checkOpen();
        try {
            return Native.call(handle, operation, request.bytes, request.length);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Runs a request/response operation without waiting; the future completes off the library's I/O threads. */
    public <T> CompletableFuture<T> callAsync(String operation, Operations.Body request,
            Function<byte[], T> response) {
        NativeFuture<T> f = new NativeFuture<>(response);
        if (state.closed) {
            f.completeExceptionally(new EventStreamClosedException("the connection is closed"));
            return f;
        }
        try {
            Native.callAsync(handle, operation, request.bytes, request.length, f);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        } finally {
            Reference.reachabilityFence(this);
        }
        return f;
    }

    /** Opens a streaming operation, waiting on the calling thread for the server's answer. */
    public NativeSubscription stream(String operation, Operations.Body request, StreamBridge<?> bridge) {
        checkOpen();
        bridge.client = this;
        try {
            long s = Native.stream(handle, operation, request.bytes, request.length, bridge);
            NativeSubscription sub = new NativeSubscription(s);
            bridge.attach(sub);
            return sub;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Opens a streaming operation; {@code response} completes when the server accepted or refused it. */
    public NativeSubscription streamAsync(String operation, Operations.Body request, StreamBridge<?> bridge,
            NativeFuture<?> response) {
        checkOpen();
        bridge.client = this;
        try {
            long s = Native.streamAsync(handle, operation, request.bytes, request.length, bridge, response);
            NativeSubscription sub = new NativeSubscription(s);
            bridge.attach(sub);
            return sub;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Closes the connection: pending operations fail, streams close. Idempotent. */
    @Override
    public void close() {
        state.closed = true;
        try {
            Native.clientClose(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }
}
