package io.ggipc.internal;

import io.ggipc.eventstreamrpc.ConnectionFailedException;
import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.eventstreamrpc.EventStreamTimeoutException;
import io.ggipc.eventstreamrpc.model.AccessDeniedException;
import io.ggipc.greengrass.model.ComponentNotFoundError;
import io.ggipc.greengrass.model.ConflictError;
import io.ggipc.greengrass.model.FailedUpdateConditionCheckError;
import io.ggipc.greengrass.model.GreengrassCoreIPCError;
import io.ggipc.greengrass.model.InvalidArgumentsError;
import io.ggipc.greengrass.model.InvalidArtifactsDirectoryPathError;
import io.ggipc.greengrass.model.InvalidClientDeviceAuthTokenError;
import io.ggipc.greengrass.model.InvalidCredentialError;
import io.ggipc.greengrass.model.InvalidRecipeDirectoryPathError;
import io.ggipc.greengrass.model.InvalidTokenError;
import io.ggipc.greengrass.model.ResourceNotFoundError;
import io.ggipc.greengrass.model.ServiceError;
import io.ggipc.greengrass.model.UnauthorizedError;

/** Turns a native error (kind number, message) into the Java exception of the SDK surface. */
public final class Errors {
    private Errors() {}

    /**
     * @param code the stable number of the error kind
     * @param message the message (the server's message for modeled errors)
     */
    @CalledFromNative
    public static Throwable fromNative(int code, String message) {
        ErrorCode kind = ErrorCode.fromCode(code);
        GreengrassCoreIPCError modeled = modeled(kind, message);
        if (modeled != null) {
            return modeled;
        }
        switch (kind) {
            case ACCESS_DENIED:
                return new AccessDeniedException(GreengrassCoreIPCError.SERVICE,
                        message == null ? "Connection access denied to event stream RPC server" : message);
            case CONNECT_FAILED:
                return new ConnectionFailedException(message);
            case CONNECTION_CLOSED:
            case STREAM_CLOSED:
                return new EventStreamClosedException(kind, message);
            case TIMEOUT:
                return new EventStreamTimeoutException(message);
            default:
                return new EventStreamRPCException(kind, message);
        }
    }

    static GreengrassCoreIPCError modeled(ErrorCode kind, String message) {
        switch (kind) {
            case SERVICE_ERROR:
                return new ServiceError(message);
            case UNAUTHORIZED_ERROR:
                return new UnauthorizedError(message);
            case INVALID_ARGUMENTS_ERROR:
                return new InvalidArgumentsError(message);
            case RESOURCE_NOT_FOUND_ERROR:
                return new ResourceNotFoundError(message);
            case COMPONENT_NOT_FOUND_ERROR:
                return new ComponentNotFoundError(message);
            case CONFLICT_ERROR:
                return new ConflictError(message);
            case FAILED_UPDATE_CONDITION_CHECK_ERROR:
                return new FailedUpdateConditionCheckError(message);
            case INVALID_TOKEN_ERROR:
                return new InvalidTokenError(message);
            case INVALID_CREDENTIAL_ERROR:
                return new InvalidCredentialError(message);
            case INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR:
                return new InvalidArtifactsDirectoryPathError(message);
            case INVALID_RECIPE_DIRECTORY_PATH_ERROR:
                return new InvalidRecipeDirectoryPathError(message);
            case INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR:
                return new InvalidClientDeviceAuthTokenError(message);
            default:
                return null;
        }
    }
}
