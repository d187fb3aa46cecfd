package io.ggipc;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.IPCUtils;
import java.io.IOException;
import java.util.concurrent.ExecutionException;

/**
 * Run by {@link ComponentEnvironmentTest} in a child JVM with the environment under test: connects the two ways
 * a component does without giving a socket or token, and prints what happened, one line each.
 */
public final class EnvProbe {
    private EnvProbe() {}

    public static void main(String[] args) throws Exception {
        try (EventStreamRPCConnection c = IPCUtils.getEventStreamRpcConnection()) {
            System.out.println("IPCUtils: connected");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            System.out.println("IPCUtils: " + cause.getClass().getName() + ": " + cause.getMessage());
        }
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().build()) {
            System.out.println("V2: connected");
        } catch (IOException e) {
            System.out.println("V2: " + e.getClass().getName() + ": " + e.getMessage());
        }
    }
}
