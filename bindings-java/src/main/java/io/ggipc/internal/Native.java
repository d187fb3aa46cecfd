package io.ggipc.internal;

import java.lang.ref.Cleaner;

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

    /** Connects and returns a client handle. {@code lifecycle} may be null. */
    static native long clientConnect(String socketPath, String authToken, long connectTimeoutMs,
            long operationTimeoutMs, LifecycleBridge lifecycle);

    /** Closes the connection (idempotent); the handle stays valid until {@link #clientFree}. */
    static native void clientClose(long client);

    /** Releases the handle; called once, when nothing can use it any more. */
    static native void clientFree(long client);

    /**
     * Publishes and waits for the answer on the calling thread. {@code qos}: -1 unset, 0, 1, -2 invalid;
     * {@code retain}: -1 unset, 0 false, 1 true; {@code payloadFormat}: -1 unset, 0, 1, -2 invalid;
     * {@code userProperties}: key, value, key, value …
     */
    static native void publish(long client, String topic, int qos, byte[] payload, int retain,
            String[] userProperties, long expiry, boolean hasExpiry, byte[] correlationData, String responseTopic,
            int payloadFormat, String contentType);

    /** Like {@link #publish} but returns at once; {@code future} is completed from a library thread. */
    static native void publishAsync(long client, String topic, int qos, byte[] payload, int retain,
            String[] userProperties, long expiry, boolean hasExpiry, byte[] correlationData, String responseTopic,
            int payloadFormat, String contentType, NativeFuture<?> future);

    /** Subscribes, waiting on the calling thread; returns a subscription handle. Events go to {@code bridge}. */
    static native long subscribe(long client, String topic, int qos, StreamBridge bridge);

    /** Starts a subscription and returns its handle at once; {@code future} completes when it is accepted. */
    static native long subscribeAsync(long client, String topic, int qos, StreamBridge bridge, NativeFuture<?> future);

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
