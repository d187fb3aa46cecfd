package io.ggipc.internal;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection.LifecycleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Receives connection lifecycle events from the native library. */
final class LifecycleBridge {
    private static final Logger LOG = Logger.getLogger(LifecycleBridge.class.getName());
    private final LifecycleHandler handler;
    volatile NativeClient.ClientState state;

    LifecycleBridge(LifecycleHandler handler) {
        this.handler = handler;
    }

    /** The connection is gone. A local {@code close()} is reported as code 0 without an error. */
    @CalledFromNative
    void onDisconnect(int code, Throwable reason) {
        NativeClient.ClientState s = state;
        if (s != null) {
            if (s.closed) {
                code = 0;
                reason = null;
            }
            s.closed = true;
        }
        if (handler == null) {
            return;
        }
        try {
            if (reason != null) {
                handler.onError(reason);
            }
            handler.onDisconnect(code);
        } catch (Throwable t) {
            LOG.log(Level.WARNING, "LifecycleHandler threw", t);
        }
    }
}
