package io.ggipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.eventstreamrpc.model.EventStreamOperationError;
import io.ggipc.greengrass.model.GreengrassCoreIPCError;
import org.junit.jupiter.api.Test;

class NativeSafetyTest {
    @Test
    void panicBecomesJavaException() {
        Native.init();
        EventStreamRPCException e = assertThrows(EventStreamRPCException.class, Native::testPanic);
        assertEquals(ErrorCode.INTERNAL, e.getCode());
        assertTrue(e.getMessage().contains("deliberate panic"), e.getMessage());
        // The JVM and the library are still usable.
        assertThrows(EventStreamRPCException.class, Native::testPanic);
        assertEquals("0.1.0", Native.version());
    }

    @Test
    void nullHandleIsAnExceptionNotACrash() {
        Native.init();
        EventStreamRPCException e = assertThrows(EventStreamRPCException.class,
                () -> Native.publish(0, "t", 0, new byte[0], -1, null, 0, false, null, null, -1, null));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
    }

    @Test
    void everyNativeErrorKindHasAJavaMapping() {
        Native.init();
        int[] codes = Native.errorCodes();
        assertTrue(codes.length >= 22);
        for (int code : codes) {
            ErrorCode kind = ErrorCode.fromCode(code);
            assertNotEquals(ErrorCode.UNKNOWN, kind, "code " + code + " has no ErrorCode");
            Throwable t = Errors.fromNative(code, "msg " + code);
            if (code >= 100) {
                GreengrassCoreIPCError g = (GreengrassCoreIPCError) t;
                assertEquals("msg " + code, g.getMessage());
                assertEquals(kind.name().replace("_", "").toLowerCase(),
                        g.getErrorCode().toLowerCase(), "class for " + kind);
                assertTrue(t instanceof EventStreamOperationError);
            } else if (!(t instanceof EventStreamOperationError)) {
                assertEquals(kind, ((EventStreamRPCException) t).getCode());
                assertEquals("msg " + code, t.getMessage());
            }
        }
    }
}
