package io.ggipc.internal;

import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.UserProperty;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

/**
 * The JNI surface of {@code libggipc_jni}. Not API: use {@code io.ggipc.greengrass}. Every method may throw the
 * Java exception that maps the native error (see {@link Errors#fromNative}); none aborts the JVM.
 */
public final class Native {
    /** The one cleaner thread that releases native handles of unreachable objects. */
    static final Cleaner CLEANER = Cleaner.create();

    static {
        NativeLoader.load();
    }

    private Native() {}

    /** Forces the library to load (and fails here if it cannot). */
    public static void init() {}

    /** Version of the native library. */
    public static native String version();

    /**
     * The IPC socket path the nucleus gives a component, as the core reads it: {@code null} when
     * {@code AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT} is unset or empty.
     */
    public static native String componentSocketPath();

    /** The component's auth token, as the core reads it: {@code null} when {@code SVCUID} is unset or empty. */
    public static native String componentAuthToken();

    /**
     * Connects and returns a client handle. {@code lifecycle} may be null; a timeout or queue size of 0 means the
     * library's default; {@code reconnect} enables reconnection with the library's default backoff.
     */
    static native long clientConnect(String socketPath, String authToken, long connectTimeoutMs,
            long operationTimeoutMs, boolean reconnect, int subscriptionQueue, LifecycleBridge lifecycle);

    /** Closes the connection (idempotent); the handle stays valid until {@link #clientFree}. */
    static native void clientClose(long client);

    /** Releases the handle; called once, when nothing can use it any more. */
    static native void clientFree(long client);

    /**
     * Runs a request/response operation ({@code operation} is its shape id, the first {@code requestLength}
     * bytes of {@code request} its JSON) and waits for the answer on the calling thread; returns the response
     * JSON, or {@code null} when it is empty.
     */
    static native byte[] call(long client, String operation, byte[] request, int requestLength);

    /** Like {@link #call} but returns at once; {@code future} is completed from a library thread. */
    static native void callAsync(long client, String operation, byte[] request, int requestLength,
            NativeFuture<?> future);

    /** Opens a stream, waiting on the calling thread; returns a subscription handle. Events go to {@code bridge}. */
    static native long stream(long client, String operation, byte[] request, int requestLength,
            StreamBridge<?> bridge);

    /** Opens a stream and returns its handle at once; {@code future} completes when it is accepted. */
    static native long streamAsync(long client, String operation, byte[] request, int requestLength,
            StreamBridge<?> bridge, NativeFuture<?> future);

    /**
     * PublishToIoTCore through {@link #call}, with the request as separate values. {@code qos}: -1 unset, 0, 1;
     * {@code retain}: -1 unset, 0 false, 1 true; {@code payloadFormat}: -1 unset, 0, 1; {@code userProperties}:
     * key, value, key, value …
     */
    static void publish(long client, String topic, int qos, byte[] payload, int retain, String[] userProperties,
            long expiry, boolean hasExpiry, byte[] correlationData, String responseTopic, int payloadFormat,
            String contentType) {
        PublishToIoTCoreRequest r = new PublishToIoTCoreRequest().withTopicName(topic).withPayload(payload)
                .withCorrelationData(correlationData).withResponseTopic(responseTopic).withContentType(contentType);
        if (qos >= 0) {
            r.setQos(Integer.toString(qos));
        }
        if (retain >= 0) {
            r.setRetain(retain == 1);
        }
        if (userProperties != null) {
            List<UserProperty> props = new ArrayList<>();
            for (int i = 0; i + 1 < userProperties.length; i += 2) {
                props.add(new UserProperty().withKey(userProperties[i]).withValue(userProperties[i + 1]));
            }
            r.setUserProperties(props);
        }
        if (hasExpiry) {
            r.setMessageExpiryIntervalSeconds(expiry);
        }
        if (payloadFormat >= 0) {
            r.setPayloadFormat(Integer.toString(payloadFormat));
        }
        Operations.Body b = Operations.body(r::writeJson);
        call(client, "aws.greengrass#PublishToIoTCore", b.bytes, b.length);
    }

    /** Closes the stream (idempotent; also before the subscription was accepted). */
    static native void subscriptionClose(long subscription);

    /** Releases the subscription handle (does not close the stream). */
    static native void subscriptionFree(long subscription);

    /** The numbers of every error kind the native library can report (for the mapping test). */
    static native int[] errorCodes();

    /** Live native handles: {clients, subscriptions} (for the leak tests). */
    static native long[] liveHandles();

    /** Test hook: panics inside native code; the panic must arrive as a Java exception. */
    static native void testPanic();
}
