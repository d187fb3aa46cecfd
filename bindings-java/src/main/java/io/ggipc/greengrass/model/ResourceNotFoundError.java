package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;

/** Modeled error {@code aws.greengrass#ResourceNotFoundError}. */
public class ResourceNotFoundError extends GreengrassCoreIPCError implements EventStreamJsonMessage {
    private static final long serialVersionUID = 1L;
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#ResourceNotFoundError";

    private String resourceType;
    private String resourceName;

    public String getResourceType() {
        return resourceType;
    }

    public void setResourceType(String resourceType) {
        this.resourceType = resourceType;
    }

    public ResourceNotFoundError withResourceType(String resourceType) {
        setResourceType(resourceType);
        return this;
    }

    public String getResourceName() {
        return resourceName;
    }

    public void setResourceName(String resourceName) {
        this.resourceName = resourceName;
    }

    public ResourceNotFoundError withResourceName(String resourceName) {
        setResourceName(resourceName);
        return this;
    }

    public ResourceNotFoundError(String errorMessage) {
        super("ResourceNotFoundError", errorMessage);
    }

    public ResourceNotFoundError() {
        this(null);
    }

    @Override
    public String getErrorTypeString() {
        return "client";
    }

    public void setMessage(String message) {
        setMessageText(message);
    }

    public ResourceNotFoundError withMessage(String message) {
        setMessage(message);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }
}
