package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Modeled error {@code aws.greengrass#InvalidRecipeDirectoryPathError}. */
public class InvalidRecipeDirectoryPathError extends GreengrassCoreIPCError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#InvalidRecipeDirectoryPathError";


    public InvalidRecipeDirectoryPathError(String errorMessage) {
        super("InvalidRecipeDirectoryPathError", errorMessage);
    }

    public InvalidRecipeDirectoryPathError() {
        this(null);
    }

    @Override
    public String getErrorTypeString() {
        return "client";
    }

    public void setMessage(String message) {
        setMessageText(message);
    }

    public InvalidRecipeDirectoryPathError withMessage(String message) {
        setMessage(message);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }
}
