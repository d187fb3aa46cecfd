package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Modeled error {@code aws.greengrass#InvalidTokenError}. */
public class InvalidTokenError extends GreengrassCoreIPCError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#InvalidTokenError";


    public InvalidTokenError(String errorMessage) {
        super("InvalidTokenError", errorMessage);
    }

    public InvalidTokenError() {
        this(null);
    }

    @Override
    public String getErrorTypeString() {
        return "server";
    }

    public void setMessage(String message) {
        setMessageText(message);
    }

    public InvalidTokenError withMessage(String message) {
        setMessage(message);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }
}
