package io.ggipc.internal;

import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.eventstreamrpc.EventStreamRPCConnection.LifecycleHandler;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.greengrass.model.PayloadFormat;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreResponse;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToIoTCoreResponse;
import io.ggipc.greengrass.model.UserProperty;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.List;
import java.util.concurrent.CompletableFuture;

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
                config.getConnectTimeout().toMillis(), config.getOperationTimeout().toMillis(), bridge);
        ClientState state = new ClientState(h);
        bridge.state = state;
        return new NativeClient(h, state);
    }

    public boolean isClosed() {
        return state.closed;
    }

    private void checkOpen() {
        if (state.closed) {
            throw new EventStreamClosedException("the connection is closed");
        }
    }

    static int qos(String wire) {
        if (wire == null) {
            return -1;
        }
        QOS q = QOS.get(wire);
        return q == null ? -2 : q.ordinal();
    }

    static int payloadFormat(String wire) {
        if (wire == null) {
            return -1;
        }
        PayloadFormat f = PayloadFormat.get(wire);
        return f == null ? -2 : f.ordinal();
    }

    static String[] userProperties(List<UserProperty> props) {
        if (props == null) {
            return null;
        }
        String[] kv = new String[props.size() * 2];
        int i = 0;
        for (UserProperty p : props) {
            kv[i++] = p.getKey();
            kv[i++] = p.getValue();
        }
        return kv;
    }

    /** Publishes and waits for the nucleus' answer on the calling thread. */
    public void publish(PublishToIoTCoreRequest r) {
        checkOpen();
        Long expiry = r.getMessageExpiryIntervalSeconds();
        Boolean retain = r.isRetain();
        try {
            Native.publish(handle, r.getTopicName(), qos(r.getQosAsString()), r.getPayload(),
                    retain == null ? -1 : retain ? 1 : 0, userProperties(r.getUserProperties()),
                    expiry == null ? 0 : expiry, expiry != null, r.getCorrelationData(), r.getResponseTopic(),
                    payloadFormat(r.getPayloadFormatAsString()), r.getContentType());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Publishes without waiting; the future completes (off the library's I/O threads) with the answer. */
    public CompletableFuture<PublishToIoTCoreResponse> publishAsync(PublishToIoTCoreRequest r) {
        NativeFuture<PublishToIoTCoreResponse> f = new NativeFuture<>(new PublishToIoTCoreResponse());
        if (state.closed) {
            f.completeExceptionally(new EventStreamClosedException("the connection is closed"));
            return f;
        }
        Long expiry = r.getMessageExpiryIntervalSeconds();
        Boolean retain = r.isRetain();
        try {
            Native.publishAsync(handle, r.getTopicName(), qos(r.getQosAsString()), r.getPayload(),
                    retain == null ? -1 : retain ? 1 : 0, userProperties(r.getUserProperties()),
                    expiry == null ? 0 : expiry, expiry != null, r.getCorrelationData(), r.getResponseTopic(),
                    payloadFormat(r.getPayloadFormatAsString()), r.getContentType(), f);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        } finally {
            Reference.reachabilityFence(this);
        }
        return f;
    }

    /** Subscribes, waiting on the calling thread for the nucleus' answer. */
    public NativeSubscription subscribe(SubscribeToIoTCoreRequest r, StreamBridge bridge) {
        checkOpen();
        bridge.client = this;
        try {
            long s = Native.subscribe(handle, r.getTopicName(), qos(r.getQosAsString()), bridge);
            NativeSubscription sub = new NativeSubscription(s);
            bridge.attach(sub);
            return sub;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Starts a subscription; {@code response} completes when the nucleus accepted or refused it. */
    public NativeSubscription subscribeAsync(SubscribeToIoTCoreRequest r, StreamBridge bridge,
            NativeFuture<SubscribeToIoTCoreResponse> response) {
        checkOpen();
        bridge.client = this;
        try {
            long s = Native.subscribeAsync(handle, r.getTopicName(), qos(r.getQosAsString()), bridge, response);
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
