package io.ggipc.internal;

import io.ggipc.eventstreamrpc.ConnectionFailedException;
import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.eventstreamrpc.EventStreamTimeoutException;
import io.ggipc.eventstreamrpc.model.AccessDeniedException;
import io.ggipc.greengrass.model.GreengrassCoreIPCError;

/** Turns a native error (kind number, message) into the Java exception of the SDK surface. */
public final class Errors {
    private Errors() {}

    /**
     * @param code the stable number of the error kind
     * @param message the message (the server's message for modeled errors)
     */
    public static Throwable fromNative(int code, String message) {
        return fromNative(code, message, null);
    }

    /**
     * @param code the stable number of the error kind
     * @param message the message (the server's message for modeled errors)
     * @param body the error's JSON body as the server sent it, or {@code null}: the modeled error's other members
     *     (e.g. {@code ServiceError.context}) are read from it
     */
    @CalledFromNative
    public static Throwable fromNative(int code, String message, byte[] body) {
        ErrorCode kind = ErrorCode.fromCode(code);
        GreengrassCoreIPCError modeled = null;
        try {
            modeled = ModeledErrors.create(kind, message, body);
        } catch (RuntimeException e) {
            // A body that cannot be read: keep the kind and the message.
            modeled = ModeledErrors.create(kind, message, null);
        }
        if (modeled != null) {
            return modeled;
        }
        switch (kind) {
            case ACCESS_DENIED:
                return new AccessDeniedException(GreengrassCoreIPCError.SERVICE,
                        message == null ? "Connection access denied to event stream RPC server" : message);
            case CONNECT_FAILED:
                return new ConnectionFailedException(message);
            case CONNECTION_CLOSED:
            case STREAM_CLOSED:
                return new EventStreamClosedException(kind, message);
            case TIMEOUT:
                return new EventStreamTimeoutException(message);
            default:
                return new EventStreamRPCException(kind, message);
        }
    }
}
