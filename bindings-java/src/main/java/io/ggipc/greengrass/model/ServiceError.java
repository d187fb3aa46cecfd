package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Map;

/** Modeled error {@code aws.greengrass#ServiceError}. */
public class ServiceError extends GreengrassCoreIPCError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#ServiceError";

    private Map<String, Object> context;

    /** Extra data the server attached to the error (may be {@code null}). */
    public Map<String, Object> getContext() {
        return context;
    }

    public void setContext(Map<String, Object> context) {
        this.context = context;
    }

    public ServiceError withContext(Map<String, Object> context) {
        setContext(context);
        return this;
    }

    public ServiceError(String errorMessage) {
        super("ServiceError", errorMessage);
    }

    public ServiceError() {
        this(null);
    }

    @Override
    public String getErrorTypeString() {
        return "server";
    }

    public void setMessage(String message) {
        setMessageText(message);
    }

    public ServiceError withMessage(String message) {
        setMessage(message);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }
}
