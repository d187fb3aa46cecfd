package io.ggipc.eventstreamrpc.model;

/** The server refused the connection: the auth token (SVCUID) was rejected. */
public class AccessDeniedException extends EventStreamOperationError {
    private static final long serialVersionUID = 1L;
    public static final String ERROR_CODE = "aws#AccessDenied";

    public AccessDeniedException(String serviceName, String message) {
        super(serviceName, ERROR_CODE, message);
    }

    public AccessDeniedException(String serviceName) {
        this(serviceName, "Connection access denied to event stream RPC server");
    }

    @Override
    public String getApplicationModelType() {
        return ERROR_CODE;
    }
}
