package io.ggipc.eventstreamrpc;

import io.ggipc.internal.NativeClient;
import java.util.concurrent.CompletableFuture;

/**
 * One connection to the nucleus' IPC server. Create it, {@link #connect(LifecycleHandler)}, hand it to a
 * {@code GreengrassCoreIPCClient}, and {@link #close()} it when done (a {@link java.lang.ref.Cleaner} closes a
 * forgotten connection once it is unreachable).
 */
public class EventStreamRPCConnection implements AutoCloseable {
    /** Told about the connection's life. Calls are made on a ggipc library thread. */
    public interface LifecycleHandler {
        /** The connection is established and accepted. */
        void onConnect();

        /**
         * The connection is gone.
         *
         * @param errorCode the {@link ErrorCode#code()} of the reason, {@code 0} after a local {@code close()}
         */
        void onDisconnect(int errorCode);

        /**
         * A connection-level error.
         *
         * @return {@code true} to close the connection
         */
        boolean onError(Throwable t);
    }

    private final EventStreamRPCConnectionConfig config;
    private volatile NativeClient client;

    public EventStreamRPCConnection(EventStreamRPCConnectionConfig config) {
        this.config = config;
    }

    /**
     * Connects and performs the handshake. The returned future is already complete when this method returns:
     * failed with {@link io.ggipc.eventstreamrpc.model.AccessDeniedException} (token rejected),
     * {@link ConnectionFailedException} (socket unreachable) or {@link EventStreamTimeoutException}.
     */
    public CompletableFuture<Void> connect(LifecycleHandler lifecycleHandler) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        synchronized (this) {
            if (client != null) {
                f.completeExceptionally(new IllegalStateException("connect() was already called"));
                return f;
            }
            try {
                client = NativeClient.connect(config, lifecycleHandler);
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
                return f;
            }
        }
        if (lifecycleHandler != null) {
            try {
                lifecycleHandler.onConnect();
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
                return f;
            }
        }
        f.complete(null);
        return f;
    }

    /** The native client of this connection; throws if {@link #connect} did not succeed. */
    public NativeClient nativeClient() {
        NativeClient c = client;
        if (c == null) {
            throw new EventStreamClosedException("the connection is not connected");
        }
        return c;
    }

    /** Whether the connection is open. */
    public boolean isConnected() {
        NativeClient c = client;
        return c != null && !c.isClosed();
    }

    /** Closes the connection: pending operations fail, streams are closed. Idempotent. */
    public void disconnect() {
        NativeClient c = client;
        if (c != null) {
            c.close();
        }
    }

    @Override
    public void close() {
        disconnect();
    }
}
