package com.aws.greengrass.docs.samples.ipc.util;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import software.amazon.awssdk.crt.io.ClientBootstrap;
import software.amazon.awssdk.crt.io.EventLoopGroup;
import software.amazon.awssdk.crt.io.SocketOptions;
import software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnection;
import software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnectionConfig;
import software.amazon.awssdk.eventstreamrpc.GreengrassConnectMessageSupplier;

/** The helper the Greengrass documentation's Java examples import: a connection from the nucleus' environment. */
public final class IPCUtils {
    public static final int DEFAULT_PORT_NUMBER = 8033;
    private static final EventLoopGroup ELG = new EventLoopGroup(1);
    private static final ClientBootstrap BOOTSTRAP = new ClientBootstrap(ELG, null);

    private IPCUtils() {}

    public static EventStreamRPCConnection getEventStreamRpcConnection()
            throws ExecutionException, InterruptedException {
        String socket = System.getenv("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT");
        String token = System.getenv("SVCUID");
        SocketOptions options = new SocketOptions();
        options.connectTimeoutMs = 3000;
        options.domain = SocketOptions.SocketDomain.LOCAL;
        options.type = SocketOptions.SocketType.STREAM;
        EventStreamRPCConnectionConfig config = new EventStreamRPCConnectionConfig(BOOTSTRAP, ELG, options, null,
                socket, DEFAULT_PORT_NUMBER, GreengrassConnectMessageSupplier.connectMessageSupplier(token));
        EventStreamRPCConnection connection = new EventStreamRPCConnection(config);
        CompletableFuture<Void> connected = new CompletableFuture<>();
        connection.connect(new EventStreamRPCConnection.LifecycleHandler() {
            @Override
            public void onConnect() {
                connected.complete(null);
            }

            @Override
            public void onDisconnect(int errorCode) {
                connected.completeExceptionally(new RuntimeException("disconnected, error code " + errorCode));
            }

            @Override
            public boolean onError(Throwable t) {
                connected.completeExceptionally(t);
                return true;
            }
        }).exceptionally(t -> {
            connected.completeExceptionally(t);
            return null;
        });
        connected.get();
        return connection;
    }
}
