package io.ggipc.internal;

import io.ggipc.eventstreamrpc.MessagesDroppedException;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.MQTTMessage;
import io.ggipc.greengrass.model.PayloadFormat;
import io.ggipc.greengrass.model.UserProperty;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Receives one subscription's events from its native dispatcher thread, in order, and hands them to the user's
 * handler, inline or through the executor. A handler that throws is logged and the stream goes on.
 */
public final class StreamBridge {
    private static final Logger LOG = Logger.getLogger(StreamBridge.class.getName());

    private final StreamResponseHandler<IoTCoreMessage> handler;
    private final Executor executor;
    private final AtomicBoolean closedDelivered = new AtomicBoolean();
    private volatile NativeSubscription subscription;
    private volatile boolean closeRequested;
    /** Keeps the connection reachable while the stream is open. */
    volatile NativeClient client;

    /**
     * @param handler the user's handler (may be null: events are dropped)
     * @param executor where to run the handler, or null to run it on the dispatcher thread
     */
    public StreamBridge(StreamResponseHandler<IoTCoreMessage> handler, Executor executor) {
        this.handler = handler;
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
    void onMessage(String topic, byte[] payload, int retain, String[] userProperties, long expiry, boolean hasExpiry,
            byte[] correlationData, String responseTopic, int payloadFormat, String contentType) {
        if (handler == null) {
            return;
        }
        MQTTMessage m = new MQTTMessage();
        m.setTopicName(topic);
        m.setPayload(payload);
        if (retain >= 0) {
            m.setRetain(retain == 1);
        }
        if (userProperties != null) {
            List<UserProperty> props = new ArrayList<>(userProperties.length / 2);
            for (int i = 0; i + 1 < userProperties.length; i += 2) {
                props.add(new UserProperty().withKey(userProperties[i]).withValue(userProperties[i + 1]));
            }
            m.setUserProperties(props);
        }
        if (hasExpiry) {
            m.setMessageExpiryIntervalSeconds(expiry);
        }
        m.setCorrelationData(correlationData);
        m.setResponseTopic(responseTopic);
        if (payloadFormat >= 0 && payloadFormat < PayloadFormat.values().length) {
            m.setPayloadFormat(PayloadFormat.values()[payloadFormat]);
        }
        m.setContentType(contentType);
        IoTCoreMessage event = new IoTCoreMessage().withMessage(m);
        run(() -> {
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
