package io.ggipc.internal;

import io.ggipc.eventstreamrpc.MessagesDroppedException;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Receives one subscription's events from its native dispatcher thread, in order, as JSON; reads each with the
 * operation's event class and hands it to the user's handler, inline or through the executor. A handler that
 * throws is logged and the stream goes on; an event that cannot be read is reported to the handler as a stream
 * error.
 */
public final class StreamBridge<E> {
    private static final Logger LOG = Logger.getLogger(StreamBridge.class.getName());

    private final StreamResponseHandler<E> handler;
    private final Function<byte[], E> reader;
    private final Executor executor;
    private final AtomicBoolean closedDelivered = new AtomicBoolean();
    private volatile NativeSubscription subscription;
    private volatile boolean closeRequested;
    /** Keeps the connection reachable while the stream is open. */
    volatile NativeClient client;

    /**
     * @param handler the user's handler (may be null: events are dropped)
     * @param reader reads one event from its JSON
     * @param executor where to run the handler, or null to run it on the dispatcher thread
     */
    public StreamBridge(StreamResponseHandler<E> handler, Function<byte[], E> reader, Executor executor) {
        this.handler = handler;
        this.reader = reader;
        this.executor = executor;
    }

    void attach(NativeSubscription sub) {
        subscription = sub;
        if (closeRequested) {
            sub.close();
        } else if (closedDelivered.get()) {
            sub.markClosed();
        }
    }

    private void run(Runnable r) {
        if (executor == null) {
            r.run();
        } else {
            executor.execute(r);
        }
    }

    @CalledFromNative
    void onEvent(byte[] json) {
        if (handler == null) {
            return;
        }
        E event;
        try {
            event = reader.apply(json);
        } catch (RuntimeException e) {
            onError(e);
            return;
        }
        if (executor == null) {
            try {
                handler.onStreamEvent(event);
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "StreamResponseHandler.onStreamEvent threw", t);
            }
            return;
        }
        executor.execute(() -> {
            try {
                handler.onStreamEvent(event);
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "StreamResponseHandler.onStreamEvent threw", t);
            }
        });
    }

    /** A stream error the stream survives (or a connection loss with a reconnect pending). */
    @CalledFromNative
    void onError(Throwable error) {
        run(() -> {
            boolean close = true;
            if (handler != null) {
                try {
                    close = handler.onStreamError(error);
                } catch (Throwable t) {
                    LOG.log(Level.WARNING, "StreamResponseHandler.onStreamError threw", t);
                }
            }
            if (close) {
                requestClose();
            }
        });
    }

    /** Messages were dropped because the handler did not keep up (reported as a stream error). */
    @CalledFromNative
    void onDropped(long count) {
        onError(new MessagesDroppedException(count));
    }

    /** The stream ended; {@code reason} is null when it was closed normally. Delivered once. */
    @CalledFromNative
    void onClosed(Throwable reason) {
        if (!closedDelivered.compareAndSet(false, true)) {
            return;
        }
        NativeSubscription sub = subscription;
        if (sub != null) {
            sub.markClosed();
        }
        client = null;
        if (handler == null) {
            return;
        }
        run(() -> {
            try {
                if (reason != null) {
                    handler.onStreamError(reason);
                }
                handler.onStreamClosed();
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "StreamResponseHandler threw", t);
            }
        });
    }

    private void requestClose() {
        closeRequested = true;
        NativeSubscription sub = subscription;
        if (sub != null) {
            sub.close();
        }
    }
}
