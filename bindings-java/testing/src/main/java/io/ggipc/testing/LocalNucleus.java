// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.internal.JsonReader;
import io.ggipc.internal.NativeLoader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongFunction;

/**
 * An in-process Greengrass nucleus for testing a component: the real IPC server (the one the {@code ggipc}
 * nucleus runs) on a private Unix socket, with a recording in-memory broker standing in for AWS IoT Core. It is
 * the core's {@code ggipc::testing::TestNucleus}, the same one the Python, C and C++ harnesses wrap, so every
 * language sees the same behaviour.
 *
 * <pre>{@code
 * try (LocalNucleus nucleus = LocalNucleus.builder("com.example.Forwarder").policy(POLICY).start()) {
 *     GreengrassCoreIPCClientV2 ipc = nucleus.clientBuilder().build();   // or hand env() to a process
 *     ...
 *     assertEquals("21.5", nucleus.waitForPublish("telemetry/temperature").getPayloadAsString());
 * }
 * }</pre>
 *
 * <p>Misuse fails fast with a clear message: every wait has a timeout and its exception says what happened
 * instead (what was published, which subscriptions exist, whether the policy allows the topic at all); asking for
 * an unregistered component names the registered ones. Failures of the nucleus are thrown as the binding's
 * exceptions ({@link io.ggipc.eventstreamrpc.EventStreamTimeoutException} for a wait that timed out,
 * {@link io.ggipc.eventstreamrpc.EventStreamRPCException} otherwise).
 *
 * <p>Thread-safe. {@link #close()} waits for calls in progress (each is bounded by its timeout).
 */
public final class LocalNucleus implements AutoCloseable {
    /** The default wait of {@link #waitForPublish(String)} and {@link #waitForSubscription(String)}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String component;
    private long handle;

    private LocalNucleus(String component, long handle) {
        this.component = component;
        this.handle = handle;
    }

    /** Settings for a nucleus serving {@code component} (which has no policy until one is given). */
    public static Builder builder(String component) {
        return new Builder(component);
    }

    /** Settings of a {@link LocalNucleus}. */
    public static final class Builder {
        private final String component;
        private String policy;
        private String socketPath;
        private String token;
        private String configuration;
        private long spoolMaxBytes = -1;
        private boolean keepQos0WhenOffline;
        private long offlineSubscribeTimeoutMs;

        private Builder(String component) {
            this.component = Objects.requireNonNull(component, "component");
        }

        /**
         * The component's {@code accessControl} as in its recipe, as JSON (a whole {@code {"accessControl": ...}}
         * object is accepted too). Without one, every IoT Core request of the component is refused.
         */
        public Builder policy(String accessControlJson) {
            this.policy = accessControlJson;
            return this;
        }

        /** Where the socket goes (default: a private temporary directory, removed on close). */
        public Builder socketPath(String socketPath) {
            this.socketPath = socketPath;
            return this;
        }

        /** The component's SVCUID (default: a fresh one). */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** The component's configuration as JSON (what GetConfiguration reads; default {@code {}}). */
        public Builder configuration(String configurationJson) {
            this.configuration = configurationJson;
            return this;
        }

        /** Bytes the spool holds during a broker outage (the nucleus' 2.5 MiB by default). */
        public Builder spoolMaxBytes(long bytes) {
            this.spoolMaxBytes = bytes;
            return this;
        }

        /** Spool QoS 0 publishes during an outage instead of refusing them ({@code keepQos0WhenOffline}). */
        public Builder keepQos0WhenOffline(boolean keep) {
            this.keepQos0WhenOffline = keep;
            return this;
        }

        /** How long a subscription made during an outage waits for the connection (the nucleus' 30 s). */
        public Builder offlineSubscribeTimeout(Duration timeout) {
            this.offlineSubscribeTimeoutMs = timeout.toMillis();
            return this;
        }

        /** Creates the socket and starts serving; the component is registered before this returns. */
        public LocalNucleus start() {
            NativeLoader.load();
            long h = nStart(component, policy, socketPath, token, configuration, spoolMaxBytes, keepQos0WhenOffline,
                    offlineSubscribeTimeoutMs);
            return new LocalNucleus(component, h);
        }
    }

    private <T> T read(LongFunction<T> f) {
        lock.readLock().lock();
        try {
            if (handle == 0) {
                throw new IllegalStateException("the LocalNucleus is closed");
            }
            return f.apply(handle);
        } finally {
            lock.readLock().unlock();
        }
    }

    private void run(java.util.function.LongConsumer f) {
        read(h -> {
            f.accept(h);
            return null;
        });
    }

    /** The component under test. */
    public String getComponent() {
        return component;
    }

    /** Path of the IPC socket. */
    public String getSocketPath() {
        return read(LocalNucleus::nSocketPath);
    }

    /** The component under test's SVCUID (the same across restarts). */
    public String getToken() {
        return getToken(component);
    }

    /** A registered component's SVCUID. */
    public String getToken(String componentName) {
        return read(h -> nTokenOf(h, componentName));
    }

    /**
     * The environment a process of {@code componentName} needs to connect ({@code
     * AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT} and {@code SVCUID}), e.g. for a {@link ProcessBuilder}.
     */
    public Map<String, String> env(String componentName) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put(EventStreamRPCConnectionConfig.SOCKET_ENV, getSocketPath());
        env.put(EventStreamRPCConnectionConfig.TOKEN_ENV, getToken(componentName));
        return Collections.unmodifiableMap(env);
    }

    /** {@link #env(String)} of the component under test. */
    public Map<String, String> env() {
        return env(component);
    }

    /** A connection config for the component under test (a JVM cannot set its own environment). */
    public EventStreamRPCConnectionConfig connectionConfig() {
        return new EventStreamRPCConnectionConfig(getSocketPath(), getToken());
    }

    /** A V2 client builder pointed at this nucleus as the component under test. */
    public GreengrassCoreIPCClientV2.Builder clientBuilder() {
        return GreengrassCoreIPCClientV2.builder().withSocketPath(getSocketPath()).withAuthToken(getToken());
    }

    /** Registers another component with its policy (null: none) and token (null: a fresh one); returns it. */
    public String addComponent(String componentName, String accessControlJson, String token) {
        return read(h -> nAddComponent(h, componentName, accessControlJson, token));
    }

    /** Replaces a component's policy (null: none); the next request is authorized against it. */
    public void setPolicy(String componentName, String accessControlJson) {
        run(h -> nSetPolicy(h, componentName, accessControlJson));
    }

    /**
     * From now on publishes to topics matching {@code topicFilter} (null: all) fail with {@code message}: the
     * component gets the nucleus' ServiceError ("Publish to topic ... failed: message").
     */
    public void failPublishes(String topicFilter, String message) {
        run(h -> nFail(h, false, topicFilter, Objects.requireNonNull(message, "message")));
    }

    /** Ends {@link #failPublishes}. */
    public void stopFailingPublishes() {
        run(h -> nFail(h, false, null, null));
    }

    /** New subscriptions whose filter {@code topicFilter} (null: all) matches fail with {@code message}. */
    public void failSubscriptions(String topicFilter, String message) {
        run(h -> nFail(h, true, topicFilter, Objects.requireNonNull(message, "message")));
    }

    /** Ends {@link #failSubscriptions}. */
    public void stopFailingSubscriptions() {
        run(h -> nFail(h, true, null, null));
    }

    /**
     * Waits until {@code count} publishes match {@code topicFilter} (a topic or MQTT filter; null: any) and
     * returns all matching ones; on timeout throws, saying what was published instead.
     */
    public List<Published> waitForPublishes(String topicFilter, int count, Duration timeout) {
        return parse(read(h -> nWaitForPublishes(h, topicFilter, count, timeout.toMillis())));
    }

    /** Waits (5 s) for a publish matching {@code topicFilter} and returns the last matching one. */
    public Published waitForPublish(String topicFilter) {
        List<Published> got = waitForPublishes(topicFilter, 1, DEFAULT_TIMEOUT);
        return got.get(got.size() - 1);
    }

    /** Every recorded publish, oldest first. */
    public List<Published> getPublished() {
        return parse(read(h -> nPublished(h, false)));
    }

    /** Publishes held in the spool during a broker outage, oldest first. */
    public List<Published> getSpooled() {
        return parse(read(h -> nPublished(h, true)));
    }

    /** Publishes that reached "IoT Core" so far. */
    public long getPublishedCount() {
        return read(LocalNucleus::nPublishedCount);
    }

    /** Forgets the recorded publishes. */
    public void clearPublished() {
        run(LocalNucleus::nClearPublished);
    }

    /** Filters of the current IoT Core subscriptions. */
    public List<String> getSubscriptions() {
        return strings(read(h -> nSubscriptions(h, false)));
    }

    /** Filters of the current local (SubscribeToTopic) subscriptions. */
    public List<String> getLocalSubscriptions() {
        return strings(read(h -> nSubscriptions(h, true)));
    }

    /** Waits until an IoT Core subscription to exactly {@code topicFilter} (null: any) exists. */
    public void waitForSubscription(String topicFilter, Duration timeout) {
        run(h -> nWaitForSubscription(h, false, topicFilter, timeout.toMillis()));
    }

    /** {@link #waitForSubscription(String, Duration)} with the default timeout. */
    public void waitForSubscription(String topicFilter) {
        waitForSubscription(topicFilter, DEFAULT_TIMEOUT);
    }

    /** Waits until a local (SubscribeToTopic) subscription to exactly {@code topicFilter} (null: any) exists. */
    public void waitForLocalSubscription(String topicFilter, Duration timeout) {
        run(h -> nWaitForSubscription(h, true, topicFilter, timeout.toMillis()));
    }

    /** {@link #waitForLocalSubscription(String, Duration)} with the default timeout. */
    public void waitForLocalSubscription(String topicFilter) {
        waitForLocalSubscription(topicFilter, DEFAULT_TIMEOUT);
    }

    /** Delivers a message "from AWS IoT Core"; returns how many subscriptions took it (0 during an outage). */
    public int inject(String topic, byte[] payload) {
        return read(h -> nInject(h, topic, payload));
    }

    /** {@link #inject(String, byte[])} with a UTF-8 payload. */
    public int inject(String topic, String payload) {
        return inject(topic, payload.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Simulates the connection to AWS IoT Core going down (false) or coming back (true), as the nucleus' MQTT
     * bridge sees it. While it is down: SubscribeToIoTCoreConnectionStatus streams see DISCONNECTED; QoS 0
     * publishes fail ("Device is offline. Dropping QoS 0 message."); QoS 1 publishes are answered once spooled
     * (beyond the spool: "Message spool is full. Message could not be added.") and are published, in order,
     * when the connection is back; new subscriptions wait for it; injected messages reach nobody.
     */
    public void setConnected(boolean connected) {
        run(h -> nSetConnected(h, connected));
    }

    /** Whether the simulated connection to AWS IoT Core is up. */
    public boolean isConnected() {
        return read(LocalNucleus::nIsConnected);
    }

    /** Publishes a local binary message on {@code topic}; returns how many subscriptions took it. */
    public int publishLocal(String topic, byte[] payload) {
        return read(h -> nPublishLocal(h, null, topic, payload, false));
    }

    /** Publishes a local JSON message (a JSON object's text) on {@code topic}. */
    public int publishLocalJson(String topic, String json) {
        return read(h -> nPublishLocal(h, null, topic, json.getBytes(StandardCharsets.UTF_8), true));
    }

    /** Replaces a component's configuration (JSON); no events are sent. */
    public void setConfiguration(String componentName, String configurationJson) {
        run(h -> nSetConfiguration(h, componentName, configurationJson));
    }

    /**
     * Merges the JSON object {@code valueJson} at {@code keyPath} as UpdateConfiguration does and tells the
     * component's SubscribeToConfigurationUpdate streams.
     */
    public void updateConfiguration(String componentName, List<String> keyPath, String valueJson) {
        StringBuilder path = new StringBuilder("[");
        for (String k : keyPath) {
            if (path.length() > 1) {
                path.append(',');
            }
            path.append(quote(k));
        }
        path.append(']');
        run(h -> nUpdateConfiguration(h, componentName, path.toString(), valueJson));
    }

    /** A component's configuration as JSON text (null if it has none). */
    public String getConfiguration(String componentName) {
        return read(h -> nConfiguration(h, componentName));
    }

    /**
     * Restarts the nucleus under its clients: every stream is terminated and every connection closed, then it
     * serves again on the same socket with the same components, tokens, policies and configurations. Clients
     * connected with reconnect enabled come back by themselves.
     */
    public void restart() {
        run(LocalNucleus::nRestart);
    }

    /** Stops serving (close() does it too); stopping twice does nothing. */
    public void stop() {
        run(LocalNucleus::nStop);
    }

    /** Stops the nucleus and releases it; closing twice does nothing. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            long h = handle;
            handle = 0;
            nFree(h);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static List<String> strings(byte[] json) {
        JsonReader r = new JsonReader(json);
        List<String> out = r.nextList(JsonReader::nextString);
        r.end();
        return out == null ? new ArrayList<>() : out;
    }

    private static List<Published> parse(byte[] json) {
        JsonReader r = new JsonReader(json);
        List<Published> out = r.nextList(e -> {
            String topic = null;
            byte[] payload = new byte[0];
            String qos = null;
            boolean retain = false;
            String comp = null;
            e.beginObject();
            String name;
            while ((name = e.nextName()) != null) {
                switch (name) {
                    case "topic":
                        topic = e.nextString();
                        break;
                    case "payload":
                        payload = Base64.getDecoder().decode(e.nextString());
                        break;
                    case "qos":
                        qos = e.nextString();
                        break;
                    case "retain":
                        retain = Boolean.TRUE.equals(e.nextBoolean());
                        break;
                    case "component":
                        comp = e.nextString();
                        break;
                    default:
                        e.skipValue();
                }
            }
            return new Published(topic, payload, qos, retain, comp);
        });
        r.end();
        return out == null ? new ArrayList<>() : out;
    }

    private static native long nStart(String component, String policyJson, String socketPath, String token,
            String configurationJson, long spoolMaxBytes, boolean keepQos0WhenOffline, long offlineSubscribeTimeoutMs);

    private static native void nFree(long h);

    private static native String nSocketPath(long h);

    private static native String nTokenOf(long h, String component);

    private static native String nAddComponent(long h, String component, String policyJson, String token);

    private static native void nSetPolicy(long h, String component, String policyJson);

    private static native void nFail(long h, boolean subscriptions, String topicFilter, String message);

    private static native byte[] nWaitForPublishes(long h, String topicFilter, int count, long timeoutMs);

    private static native byte[] nPublished(long h, boolean spooled);

    private static native long nPublishedCount(long h);

    private static native void nClearPublished(long h);

    private static native byte[] nSubscriptions(long h, boolean local);

    private static native void nWaitForSubscription(long h, boolean local, String topicFilter, long timeoutMs);

    private static native int nInject(long h, String topic, byte[] payload);

    private static native void nSetConnected(long h, boolean connected);

    private static native boolean nIsConnected(long h);

    private static native int nPublishLocal(long h, String publisher, String topic, byte[] payload, boolean json);

    private static native void nSetConfiguration(long h, String component, String configurationJson);

    private static native void nUpdateConfiguration(long h, String component, String keyPathJson, String valueJson);

    private static native String nConfiguration(long h, String component);

    private static native void nRestart(long h);

    private static native void nStop(long h);
}
