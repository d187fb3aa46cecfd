package io.ggipc.eventstreamrpc.model;

/**
 * Base class of every modeled error a server returns for an operation. The server's message is kept and
 * returned by {@link #getMessage()}; {@link #toString()} also names the service and the error code.
 */
public abstract class EventStreamOperationError extends RuntimeException implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;

    private final String service;
    private final String errorCode;
    private String message;

    protected EventStreamOperationError(String service, String errorCode, String message) {
        super(String.format("%s[%s]: %s", errorCode, service, message));
        this.service = service;
        this.errorCode = errorCode;
        this.message = message;
    }

    public String getService() {
        return service;
    }

    @Override
    public String getMessage() {
        return message;
    }

    protected void setMessageText(String message) {
        this.message = message;
    }

    public String getErrorCode() {
        return errorCode;
    }

    @Override
    public String toString() {
        return getClass().getName() + ": " + errorCode + "[" + service + "]: " + message;
    }
}
