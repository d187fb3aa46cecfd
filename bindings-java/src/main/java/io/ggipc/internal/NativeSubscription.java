package io.ggipc.internal;

import java.lang.ref.Reference;

/**
 * One subscription's native handle. Not API. {@link #close()} closes the stream. Losing every reference to this
 * object does not close the stream (as with the AWS SDK, a subscription lives until it is closed); the Cleaner only
 * releases the handle.
 */
public final class NativeSubscription implements AutoCloseable {
    private final long handle;
    private volatile boolean closed;

    private static final class Release implements Runnable {
        private final long handle;

        Release(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.subscriptionFree(handle);
        }
    }

    NativeSubscription(long handle) {
        this.handle = handle;
        Native.CLEANER.register(this, new Release(handle));
    }

    void markClosed() {
        closed = true;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Closes the stream; the handler's {@code onStreamClosed} follows. Idempotent. */
    @Override
    public void close() {
        closed = true;
        try {
            Native.subscriptionClose(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }
}
