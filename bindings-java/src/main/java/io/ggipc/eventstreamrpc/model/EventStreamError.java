package io.ggipc.eventstreamrpc.model;

/**
 * A protocol-level failure: the server sent something the client could not map to a modeled answer
 * (an unmodeled application error, a protocol error or an internal server error).
 */
public class EventStreamError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EventStreamError(String message) {
        super(message);
    }

    public EventStreamError(String message, Throwable cause) {
        super(message, cause);
    }
}
