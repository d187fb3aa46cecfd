package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import io.ggipc.eventstreamrpc.model.EventStreamOperationError;

/**
 * Base class of the modeled errors of the Greengrass Core IPC service. Operations report them as the cause of the
 * {@link java.util.concurrent.ExecutionException} of their response future (V1 and V2 async) or throw them directly
 * (V2 sync).
 */
public abstract class GreengrassCoreIPCError extends EventStreamOperationError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String SERVICE = "aws.greengrass#GreengrassCoreIPC";

    GreengrassCoreIPCError(String errorCode, String message) {
        super(SERVICE, errorCode, message);
    }

    /** {@code "client"} or {@code "server"}: which side the error is attributed to. */
    public abstract String getErrorTypeString();

    public boolean isRetryable() {
        return false;
    }

    public boolean isServerError() {
        return "server".equals(getErrorTypeString());
    }

    public boolean isClientError() {
        return "client".equals(getErrorTypeString());
    }
}
