package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Connects to the nucleus from the component environment, as the Greengrass documentation's {@code IPCUtils} does. */
public final class IPCUtils {
    /** The port the documentation's IPCUtils passes; ignored for Unix sockets. */
    public static final int DEFAULT_PORT_NUMBER = 8033;

    private IPCUtils() {}

    /**
     * A connected connection, from {@code AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT} and {@code SVCUID}.
     *
     * @throws ExecutionException whose cause says why connecting failed (access denied, socket unreachable, …)
     */
    public static EventStreamRPCConnection getEventStreamRpcConnection()
            throws ExecutionException, InterruptedException {
        EventStreamRPCConnection connection;
        try {
            connection = new EventStreamRPCConnection(EventStreamRPCConnectionConfig.fromEnvironment());
        } catch (RuntimeException e) {
            throw new ExecutionException(e);
        }
        CompletableFuture<Void> connected = connection.connect(null);
        connected.get();
        return connection;
    }
}
