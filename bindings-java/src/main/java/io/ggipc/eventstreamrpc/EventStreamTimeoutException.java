package io.ggipc.eventstreamrpc;

/** A connect or an operation did not complete within its configured timeout. */
public class EventStreamTimeoutException extends EventStreamRPCException {
    private static final long serialVersionUID = 1L;

    public EventStreamTimeoutException(String message) {
        super(ErrorCode.TIMEOUT, message);
    }
}
