package io.ggipc.eventstreamrpc;

/** The connection or the stream was closed (by either side) before the operation completed. */
public class EventStreamClosedException extends EventStreamRPCException {
    private static final long serialVersionUID = 1L;

    public EventStreamClosedException(String message) {
        super(ErrorCode.CONNECTION_CLOSED, message);
    }

    public EventStreamClosedException(ErrorCode code, String message) {
        super(code, message);
    }

    public EventStreamClosedException(long streamId) {
        this("EventStream id " + streamId + " is already closed!");
    }
}
