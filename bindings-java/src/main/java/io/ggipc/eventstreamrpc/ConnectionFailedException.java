package io.ggipc.eventstreamrpc;

/** The IPC socket could not be reached (missing, refused, or the handshake failed). */
public class ConnectionFailedException extends EventStreamRPCException {
    private static final long serialVersionUID = 1L;

    public ConnectionFailedException(String message) {
        super(ErrorCode.CONNECT_FAILED, message);
    }
}
