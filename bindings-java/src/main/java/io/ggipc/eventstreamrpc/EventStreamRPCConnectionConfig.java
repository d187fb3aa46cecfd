package io.ggipc.eventstreamrpc;

import java.time.Duration;
import java.util.Objects;

/**
 * Where and how to connect: the nucleus' IPC socket, the component's auth token (SVCUID) and the timeouts.
 * Every wait has a timeout: connect defaults to 10 s, each operation to 10 s.
 */
public class EventStreamRPCConnectionConfig {
    /** Environment variable holding the IPC socket path. */
    public static final String SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT";
    /** Environment variable holding the component's auth token. */
    public static final String TOKEN_ENV = "SVCUID";

    private final String socketPath;
    private final String authToken;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration operationTimeout = Duration.ofSeconds(10);

    public EventStreamRPCConnectionConfig(String socketPath, String authToken) {
        this.socketPath = Objects.requireNonNull(socketPath, "socketPath");
        this.authToken = Objects.requireNonNull(authToken, "authToken");
    }

    /** A config from the component environment (the variables a nucleus sets for its components). */
    public static EventStreamRPCConnectionConfig fromEnvironment() {
        String socket = System.getenv(SOCKET_ENV);
        String token = System.getenv(TOKEN_ENV);
        if (socket == null || socket.isEmpty()) {
            throw new ConnectionFailedException(SOCKET_ENV + " is not set: not running as a Greengrass component");
        }
        if (token == null || token.isEmpty()) {
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

    public Duration getConnectTimeout() {
        return connectTimeout;
    }

    public EventStreamRPCConnectionConfig withConnectTimeout(Duration connectTimeout) {
        this.connectTimeout = Objects.requireNonNull(connectTimeout);
        return this;
    }

    public Duration getOperationTimeout() {
        return operationTimeout;
    }

    public EventStreamRPCConnectionConfig withOperationTimeout(Duration operationTimeout) {
        this.operationTimeout = Objects.requireNonNull(operationTimeout);
        return this;
    }
}
