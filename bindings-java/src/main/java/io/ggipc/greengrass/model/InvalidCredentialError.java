package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Modeled error {@code aws.greengrass#InvalidCredentialError}. */
public class InvalidCredentialError extends GreengrassCoreIPCError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#InvalidCredentialError";


    public InvalidCredentialError(String errorMessage) {
        super("InvalidCredentialError", errorMessage);
    }

    public InvalidCredentialError() {
        this(null);
    }

    @Override
    public String getErrorTypeString() {
        return "client";
    }

    public void setMessage(String message) {
        setMessageText(message);
    }

    public InvalidCredentialError withMessage(String message) {
        setMessage(message);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }
}
