package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.MessagesDroppedException;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreResponse;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToIoTCoreResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The V2 client: synchronous methods that return the response (and throw the modeled error, e.g.
 * {@code UnauthorizedError}), asynchronous twins that return futures, and subscriptions taking lambdas.
 *
 * <p>Stream callbacks run in order on the subscription's dispatcher thread unless an executor is chosen with
 * {@link Builder#withExecutor(Executor)} (then ordering is the executor's). Unlike the AWS SDK, no thread pool is
 * created by default, so events are never reordered and threads do not grow. Sync calls are safe inside callbacks.
 */
public class GreengrassCoreIPCClientV2 implements AutoCloseable {
    private final GreengrassCoreIPCClient client;
    private final EventStreamRPCConnection connection;
    private final Executor executor;

    protected GreengrassCoreIPCClientV2(GreengrassCoreIPCClient client, EventStreamRPCConnection connection,
            Executor executor) {
        this.client = client;
        this.connection = connection;
        this.executor = executor;
    }

    /** A builder; without options it connects from the component environment. */
    public static Builder builder() {
        return new Builder();
    }

    /** The V1 client this client wraps. */
    public GreengrassCoreIPC getClient() {
        return client;
    }

    private static <T> T await(CompletableFuture<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            throw new RuntimeException(c);
        }
    }

    /** Publishes and waits for the nucleus' answer. Throws the modeled error on refusal. */
    public PublishToIoTCoreResponse publishToIoTCore(PublishToIoTCoreRequest request) throws InterruptedException {
        client.nativeClient().publish(request);
        return new PublishToIoTCoreResponse();
    }

    /** Publishes without waiting. */
    public CompletableFuture<PublishToIoTCoreResponse> publishToIoTCoreAsync(PublishToIoTCoreRequest request) {
        return client.publishToIoTCore(request, Optional.empty()).getResponse();
    }

    /** Subscribes and waits for the nucleus' answer. */
    public StreamingResponse<SubscribeToIoTCoreResponse, SubscribeToIoTCoreResponseHandler> subscribeToIoTCore(
            SubscribeToIoTCoreRequest request, Consumer<IoTCoreMessage> onStreamEvent,
            Optional<Function<Throwable, Boolean>> onStreamError, Optional<Runnable> onStreamClosed)
            throws InterruptedException {
        return subscribeToIoTCore(request, lambdas(onStreamEvent, onStreamError, onStreamClosed));
    }

    /** Subscribes and waits for the nucleus' answer. */
    public StreamingResponse<SubscribeToIoTCoreResponse, SubscribeToIoTCoreResponseHandler> subscribeToIoTCore(
            SubscribeToIoTCoreRequest request, StreamResponseHandler<IoTCoreMessage> streamResponseHandler)
            throws InterruptedException {
        SubscribeToIoTCoreResponseHandler h = client.subscribeToIoTCoreSync(request, streamResponseHandler, executor);
        return new StreamingResponse<>(await(h.getResponse()), h);
    }

    /** Subscribes without waiting. */
    public StreamingResponse<CompletableFuture<SubscribeToIoTCoreResponse>, SubscribeToIoTCoreResponseHandler>
            subscribeToIoTCoreAsync(SubscribeToIoTCoreRequest request, Consumer<IoTCoreMessage> onStreamEvent,
                    Optional<Function<Throwable, Boolean>> onStreamError, Optional<Runnable> onStreamClosed) {
        return subscribeToIoTCoreAsync(request, lambdas(onStreamEvent, onStreamError, onStreamClosed));
    }

    /** Subscribes without waiting. */
    public StreamingResponse<CompletableFuture<SubscribeToIoTCoreResponse>, SubscribeToIoTCoreResponseHandler>
            subscribeToIoTCoreAsync(SubscribeToIoTCoreRequest request,
                    StreamResponseHandler<IoTCoreMessage> streamResponseHandler) {
        SubscribeToIoTCoreResponseHandler h = client.subscribeToIoTCoreAsync(request, streamResponseHandler, executor);
        return new StreamingResponse<>(h.getResponse(), h);
    }

    private static StreamResponseHandler<IoTCoreMessage> lambdas(Consumer<IoTCoreMessage> onStreamEvent,
            Optional<Function<Throwable, Boolean>> onStreamError, Optional<Runnable> onStreamClosed) {
        return new StreamResponseHandler<IoTCoreMessage>() {
            @Override
            public void onStreamEvent(IoTCoreMessage event) {
                onStreamEvent.accept(event);
            }

            @Override
            public boolean onStreamError(Throwable error) {
                if (onStreamError != null && onStreamError.isPresent()) {
                    Boolean close = onStreamError.get().apply(error);
                    return close != null && close;
                }
                // Without an error callback: close on stream errors, but not because messages were dropped.
                return !(error instanceof MessagesDroppedException);
            }

            @Override
            public void onStreamClosed() {
                if (onStreamClosed != null) {
                    onStreamClosed.ifPresent(Runnable::run);
                }
            }
        };
    }

    /** Closes the connection if this client opened it. Idempotent; throws nothing. */
    @Override
    public void close() {
        if (connection != null) {
            connection.close();
        }
    }

    /** A response (or its future) together with the handler that controls the stream. */
    public static class StreamingResponse<T, U> {
        protected final T r;
        protected final U h;

        public StreamingResponse(T r, U h) {
            this.r = r;
            this.h = h;
        }

        public T getResponse() {
            return r;
        }

        public U getHandler() {
            return h;
        }
    }

    /** Builds a {@link GreengrassCoreIPCClientV2}. */
    public static class Builder {
        protected GreengrassCoreIPC client;
        protected Executor executor;
        protected String socketPath;
        protected String authToken;
        protected int port = 8888;
        protected Duration connectTimeout;
        protected Duration operationTimeout;

        public Builder() {}

        /** Connects (unless a client was given) and builds; connection failures are reported as IOException. */
        public GreengrassCoreIPCClientV2 build() throws IOException {
            if (client != null) {
                if (!(client instanceof GreengrassCoreIPCClient)) {
                    throw new IllegalArgumentException("withClient needs a io.ggipc.greengrass.GreengrassCoreIPCClient");
                }
                GreengrassCoreIPCClient v1 = (GreengrassCoreIPCClient) client;
                return new GreengrassCoreIPCClientV2(
                        new GreengrassCoreIPCClient(v1.getConnection(), executor), null, executor);
            }
            String socket = socketPath != null ? socketPath
                    : System.getenv(EventStreamRPCConnectionConfig.SOCKET_ENV);
            String token = authToken != null ? authToken : System.getenv(EventStreamRPCConnectionConfig.TOKEN_ENV);
            if (socket == null || token == null) {
                throw new IOException("no socket path or auth token: set them on the builder or run as a component ("
                        + EventStreamRPCConnectionConfig.SOCKET_ENV + ", " + EventStreamRPCConnectionConfig.TOKEN_ENV
                        + ")");
            }
            EventStreamRPCConnectionConfig config = new EventStreamRPCConnectionConfig(socket, token);
            if (connectTimeout != null) {
                config.withConnectTimeout(connectTimeout);
            }
            if (operationTimeout != null) {
                config.withOperationTimeout(operationTimeout);
            }
            EventStreamRPCConnection connection = new EventStreamRPCConnection(config);
            try {
                connection.connect(null).get();
            } catch (ExecutionException e) {
                throw new IOException(e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while connecting", e);
            }
            return new GreengrassCoreIPCClientV2(new GreengrassCoreIPCClient(connection, executor), connection,
                    executor);
        }

        /** Uses an existing V1 client (and its connection, which this V2 client will not close). */
        public Builder withClient(GreengrassCoreIPC client) {
            this.client = client;
            return this;
        }

        public Builder withAuthToken(String authToken) {
            this.authToken = authToken;
            return this;
        }

        public Builder withSocketPath(String socketPath) {
            this.socketPath = socketPath;
            return this;
        }

        /** Accepted for compatibility; Unix sockets have no port. */
        public Builder withPort(int port) {
            this.port = port;
            return this;
        }

        /** Runs stream callbacks on this executor (ordering is then the executor's). */
        public Builder withExecutor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /** Runs stream callbacks in order on the subscription's dispatcher thread (the default). */
        public Builder withoutExecutor() {
            this.executor = null;
            return this;
        }

        /** How long to wait for the connection (default 10 s). */
        public Builder withConnectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        /** How long each operation may take (default 10 s). */
        public Builder withOperationTimeout(Duration timeout) {
            this.operationTimeout = timeout;
            return this;
        }
    }
}
