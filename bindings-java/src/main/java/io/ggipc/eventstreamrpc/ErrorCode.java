package io.ggipc.eventstreamrpc;

/**
 * What went wrong, as a stable number shared by every ggipc binding (the numbers never change meaning and are
 * never reused). Transport and client-side kinds surface as {@link EventStreamRPCException}s; the modeled service
 * errors surface as the classes of {@code io.ggipc.greengrass.model} (e.g. {@code UnauthorizedError}).
 */
public enum ErrorCode {
    CONNECT_FAILED(1),
    ACCESS_DENIED(2),
    CONNECTION_CLOSED(3),
    TIMEOUT(4),
    PROTOCOL(5),
    INVALID_FRAME(6),
    INVALID_ARGUMENT(7),
    STREAM_CLOSED(8),
    UNMAPPED(9),
    INTERNAL(10),
    SERVICE_ERROR(100),
    UNAUTHORIZED_ERROR(101),
    INVALID_ARGUMENTS_ERROR(102),
    RESOURCE_NOT_FOUND_ERROR(103),
    COMPONENT_NOT_FOUND_ERROR(104),
    CONFLICT_ERROR(105),
    FAILED_UPDATE_CONDITION_CHECK_ERROR(106),
    INVALID_TOKEN_ERROR(107),
    INVALID_CREDENTIAL_ERROR(108),
    INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR(109),
    INVALID_RECIPE_DIRECTORY_PATH_ERROR(110),
    INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR(111),
    /** A code this version of the Java binding does not know (a newer native library). */
    UNKNOWN(-1);

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** The stable number of this kind. */
    public int code() {
        return code;
    }

    /** The kind with this number, or {@link #UNKNOWN}. */
    public static ErrorCode fromCode(int code) {
        for (ErrorCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        return UNKNOWN;
    }
}
