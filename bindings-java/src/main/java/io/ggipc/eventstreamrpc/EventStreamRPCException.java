package io.ggipc.eventstreamrpc;

/** A transport or client-side failure (connect refused, connection closed, timeout, protocol violation …). */
public class EventStreamRPCException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final ErrorCode code;

    public EventStreamRPCException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public EventStreamRPCException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** What went wrong. */
    public ErrorCode getCode() {
        return code;
    }
}
