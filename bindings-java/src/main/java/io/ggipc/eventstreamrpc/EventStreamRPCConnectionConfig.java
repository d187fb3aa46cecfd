package io.ggipc.eventstreamrpc;

import io.ggipc.internal.Native;
import java.time.Duration;
import java.util.Objects;

/**
 * Where and how to connect: the nucleus' IPC socket, the component's auth token (SVCUID), the timeouts,
 * reconnection and the subscription queue size. Every wait has a timeout: what is not set here (or set to zero)
 * is the library's default (10 s to connect, 10 s per operation). A negative timeout is refused when connecting
 * ({@link ErrorCode#INVALID_ARGUMENT}), with the words every ggipc binding uses.
 */
public class EventStreamRPCConnectionConfig {
    /** Environment variable holding the IPC socket path. */
    public static final String SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT";
    /** Environment variable holding the component's auth token. */
    public static final String TOKEN_ENV = "SVCUID";

    private final String socketPath;
    private final String authToken;
    private Duration connectTimeout;
    private Duration operationTimeout;
    private boolean reconnect;
    private Integer subscriptionQueueSize;

    public EventStreamRPCConnectionConfig(String socketPath, String authToken) {
        this.socketPath = Objects.requireNonNull(socketPath, "socketPath");
        this.authToken = Objects.requireNonNull(authToken, "authToken");
    }

    /**
     * A config from the component environment (the variables a nucleus sets for its components), as the core
     * reads it: an empty variable is not set.
     */
    public static EventStreamRPCConnectionConfig fromEnvironment() {
        String socket = Native.componentSocketPath();
        String token = Native.componentAuthToken();
        if (socket == null) {
            throw new ConnectionFailedException(SOCKET_ENV + " is not set: not running as a Greengrass component");
        }
        if (token == null) {
            throw new ConnectionFailedException(TOKEN_ENV + " is not set: not running as a Greengrass component");
        }
        return new EventStreamRPCConnectionConfig(socket, token);
    }

    public String getSocketPath() {
        return socketPath;
    }

    public String getAuthToken() {
        return authToken;
    }

    /** The connect timeout, or {@code null} for the library's default. */
    public Duration getConnectTimeout() {
        return connectTimeout;
    }

    public EventStreamRPCConnectionConfig withConnectTimeout(Duration connectTimeout) {
        this.connectTimeout = Objects.requireNonNull(connectTimeout);
        return this;
    }

    /** The operation timeout, or {@code null} for the library's default. */
    public Duration getOperationTimeout() {
        return operationTimeout;
    }

    public EventStreamRPCConnectionConfig withOperationTimeout(Duration operationTimeout) {
        this.operationTimeout = Objects.requireNonNull(operationTimeout);
        return this;
    }

    /** Whether the connection is re-established (with backoff) after it is lost; default off. */
    public boolean isReconnect() {
        return reconnect;
    }

    /**
     * Reconnects after the connection is lost, with the library's default backoff (100 ms doubling to 10 s,
     * without limit); subscriptions are re-established and their handlers told of the gap through
     * {@code onStreamError}. Without it, a lost connection ends the streams and fails later calls.
     */
    public EventStreamRPCConnectionConfig withReconnect(boolean reconnect) {
        this.reconnect = reconnect;
        return this;
    }

    /** The subscription queue size, or {@code null} for the library's default (10 000). */
    public Integer getSubscriptionQueueSize() {
        return subscriptionQueueSize;
    }

    /**
     * Messages buffered per subscription for a slow handler before newer ones are dropped (and reported as a
     * {@link MessagesDroppedException}); default 10 000.
     */
    public EventStreamRPCConnectionConfig withSubscriptionQueueSize(int messages) {
        if (messages < 1) {
            throw new IllegalArgumentException("the subscription queue size must be at least 1");
        }
        this.subscriptionQueueSize = messages;
        return this;
    }
}
