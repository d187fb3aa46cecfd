package conformance;

import com.aws.greengrass.docs.samples.ipc.util.IPCUtils;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClient;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClientV2;
import software.amazon.awssdk.aws.greengrass.SubscribeToIoTCoreResponseHandler;
import software.amazon.awssdk.aws.greengrass.model.BinaryMessage;
import software.amazon.awssdk.aws.greengrass.model.ComponentUpdatePolicyEvents;
import software.amazon.awssdk.aws.greengrass.model.ConfigurationUpdateEvent;
import software.amazon.awssdk.aws.greengrass.model.ConfigurationUpdateEvents;
import software.amazon.awssdk.aws.greengrass.model.ConfigurationValidityReport;
import software.amazon.awssdk.aws.greengrass.model.ConfigurationValidityStatus;
import software.amazon.awssdk.aws.greengrass.model.DeferComponentUpdateRequest;
import software.amazon.awssdk.aws.greengrass.model.GetConfigurationRequest;
import software.amazon.awssdk.aws.greengrass.model.GetConfigurationResponse;
import software.amazon.awssdk.aws.greengrass.model.PostComponentUpdateEvent;
import software.amazon.awssdk.aws.greengrass.model.PreComponentUpdateEvent;
import software.amazon.awssdk.aws.greengrass.model.ReportedLifecycleState;
import software.amazon.awssdk.aws.greengrass.model.SendConfigurationValidityReportRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToComponentUpdatesRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToConfigurationUpdateRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToValidateConfigurationUpdatesRequest;
import software.amazon.awssdk.aws.greengrass.model.UpdateConfigurationRequest;
import software.amazon.awssdk.aws.greengrass.model.UpdateStateRequest;
import software.amazon.awssdk.aws.greengrass.model.ValidateConfigurationUpdateEvent;
import software.amazon.awssdk.aws.greengrass.model.ValidateConfigurationUpdateEvents;
import software.amazon.awssdk.aws.greengrass.model.IoTCoreMessage;
import software.amazon.awssdk.aws.greengrass.model.JsonMessage;
import software.amazon.awssdk.aws.greengrass.model.PublishMessage;
import software.amazon.awssdk.aws.greengrass.model.PublishToTopicRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToTopicRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscriptionResponseMessage;
import software.amazon.awssdk.aws.greengrass.model.MQTTMessage;
import software.amazon.awssdk.aws.greengrass.model.PayloadFormat;
import software.amazon.awssdk.aws.greengrass.model.PublishToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.QOS;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.UserProperty;
import software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnection;
import software.amazon.awssdk.eventstreamrpc.StreamResponseHandler;

/**
 * Conformance scenarios for the Java Greengrass IPC clients. Written against the official SDK's names; the ggipc
 * build of this file only swaps the package names (the porting rule).
 *
 * <p>Usage: {@code Driver v1|v2 SCENARIO}; prints one JSON line {@code {"scenario","ok","reason"}}.
 */
public final class Driver {
    static final long T = 10; // seconds: every wait has this deadline

    static final class Fail extends Exception {
        Fail(String m) {
            super(m);
        }
    }

    static void check(boolean cond, String what) throws Fail {
        if (!cond) {
            throw new Fail(what);
        }
    }

    /** Collects a subscription's events, with deadline waits. */
    static final class Events implements StreamResponseHandler<IoTCoreMessage> {
        final List<MQTTMessage> items = new ArrayList<>();
        boolean closed;

        @Override
        public synchronized void onStreamEvent(IoTCoreMessage event) {
            items.add(event.getMessage());
            notifyAll();
        }

        @Override
        public boolean onStreamError(Throwable error) {
            return true;
        }

        @Override
        public synchronized void onStreamClosed() {
            closed = true;
            notifyAll();
        }

        synchronized void await(Predicate<Events> pred, String what) throws Fail, InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
            while (!pred.test(this)) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new Fail("timed out after " + T + " s waiting for " + what);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
    }

    /** What the scenarios need, on the V1 or the V2 API. */
    static final class Client {
        final boolean v2;
        EventStreamRPCConnection connection;
        GreengrassCoreIPCClient v1;
        GreengrassCoreIPCClientV2 client2;

        Client(String api) throws Exception {
            v2 = api.equals("v2");
            if (v2) {
                client2 = GreengrassCoreIPCClientV2.builder().build();
            } else {
                connection = IPCUtils.getEventStreamRpcConnection();
                v1 = new GreengrassCoreIPCClient(connection);
            }
        }

        Future<?> publishAsync(PublishToIoTCoreRequest r) {
            if (v2) {
                return client2.publishToIoTCoreAsync(r);
            }
            return v1.publishToIoTCore(r, Optional.empty()).getResponse();
        }

        void publish(PublishToIoTCoreRequest r) throws Exception {
            if (v2) {
                client2.publishToIoTCore(r);
            } else {
                publishAsync(r).get(T, TimeUnit.SECONDS);
            }
        }

        SubscribeToIoTCoreResponseHandler subscribe(String filter, Events events) throws Exception {
            SubscribeToIoTCoreRequest r = new SubscribeToIoTCoreRequest().withTopicName(filter)
                    .withQos(QOS.AT_MOST_ONCE);
            if (v2) {
                return client2.subscribeToIoTCore(r, events::onStreamEvent, Optional.of(events::onStreamError),
                        Optional.of(events::onStreamClosed)).getHandler();
            }
            SubscribeToIoTCoreResponseHandler h = v1.subscribeToIoTCore(r, Optional.of(events));
            h.getResponse().get(T, TimeUnit.SECONDS);
            return h;
        }

        void publishLocal(String topic, PublishMessage message) throws Exception {
            PublishToTopicRequest r = new PublishToTopicRequest().withTopic(topic).withPublishMessage(message);
            if (v2) {
                client2.publishToTopic(r);
            } else {
                v1.publishToTopic(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void subscribeLocal(String topic, LocalEvents events) throws Exception {
            SubscribeToTopicRequest r = new SubscribeToTopicRequest().withTopic(topic);
            if (v2) {
                client2.subscribeToTopic(r, events::onStreamEvent, Optional.of(events::onStreamError),
                        Optional.of(events::onStreamClosed));
            } else {
                v1.subscribeToTopic(r, Optional.of(events)).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        GetConfigurationResponse getConfiguration(GetConfigurationRequest r) throws Exception {
            if (v2) {
                return client2.getConfiguration(r);
            }
            return v1.getConfiguration(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
        }

        void updateConfiguration(UpdateConfigurationRequest r) throws Exception {
            if (v2) {
                client2.updateConfiguration(r);
            } else {
                v1.updateConfiguration(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void subscribeToConfigurationUpdate(SubscribeToConfigurationUpdateRequest r,
                Collector<ConfigurationUpdateEvents> ev) throws Exception {
            if (v2) {
                client2.subscribeToConfigurationUpdate(r, ev::onStreamEvent, Optional.of(ev::onStreamError),
                        Optional.of(ev::onStreamClosed));
            } else {
                v1.subscribeToConfigurationUpdate(r, Optional.of(ev)).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void subscribeToValidateConfigurationUpdates(Collector<ValidateConfigurationUpdateEvents> ev)
                throws Exception {
            SubscribeToValidateConfigurationUpdatesRequest r = new SubscribeToValidateConfigurationUpdatesRequest();
            if (v2) {
                client2.subscribeToValidateConfigurationUpdates(r, ev::onStreamEvent,
                        Optional.of(ev::onStreamError), Optional.of(ev::onStreamClosed));
            } else {
                v1.subscribeToValidateConfigurationUpdates(r, Optional.of(ev)).getResponse()
                        .get(T, TimeUnit.SECONDS);
            }
        }

        void subscribeToComponentUpdates(Collector<ComponentUpdatePolicyEvents> ev) throws Exception {
            SubscribeToComponentUpdatesRequest r = new SubscribeToComponentUpdatesRequest();
            if (v2) {
                client2.subscribeToComponentUpdates(r, ev::onStreamEvent, Optional.of(ev::onStreamError),
                        Optional.of(ev::onStreamClosed));
            } else {
                v1.subscribeToComponentUpdates(r, Optional.of(ev)).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void sendConfigurationValidityReport(ConfigurationValidityReport report) throws Exception {
            SendConfigurationValidityReportRequest r = new SendConfigurationValidityReportRequest()
                    .withConfigurationValidityReport(report);
            if (v2) {
                client2.sendConfigurationValidityReport(r);
            } else {
                v1.sendConfigurationValidityReport(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void updateState(UpdateStateRequest r) throws Exception {
            if (v2) {
                client2.updateState(r);
            } else {
                v1.updateState(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void deferComponentUpdate(DeferComponentUpdateRequest r) throws Exception {
            if (v2) {
                client2.deferComponentUpdate(r);
            } else {
                v1.deferComponentUpdate(r, Optional.empty()).getResponse().get(T, TimeUnit.SECONDS);
            }
        }

        void close() throws Exception {
            if (v2) {
                client2.close();
            } else {
                connection.close();
            }
        }
    }

    /** Collects a local subscription's events. */
    static final class LocalEvents implements StreamResponseHandler<SubscriptionResponseMessage> {
        final List<SubscriptionResponseMessage> items = new ArrayList<>();

        @Override
        public synchronized void onStreamEvent(SubscriptionResponseMessage event) {
            items.add(event);
            notifyAll();
        }

        @Override
        public boolean onStreamError(Throwable error) {
            return true;
        }

        @Override
        public void onStreamClosed() {}

        synchronized void await(int n, String what) throws Fail, InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
            while (items.size() < n) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new Fail("timed out after " + T + " s waiting for " + what);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
    }

    /** Collects the events of any stream, with deadline waits. */
    static final class Collector<E> implements StreamResponseHandler<E> {
        final List<E> items = new ArrayList<>();

        @Override
        public synchronized void onStreamEvent(E event) {
            items.add(event);
            notifyAll();
        }

        @Override
        public boolean onStreamError(Throwable error) {
            return true;
        }

        @Override
        public void onStreamClosed() {}

        synchronized void await(Predicate<List<E>> pred, String what) throws Fail, InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(T);
            while (!pred.test(items)) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new Fail("timed out after " + T + " s waiting for " + what);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }

        synchronized E get(int i) {
            return items.get(i);
        }
    }

    static final String COMPONENT = "io.ggipc.conformance.Client";

    /** Asks the runner for a deployment (tests/conformance/run.py, TRIGGER). */
    static void trigger(String what) {
        System.out.println("TRIGGER " + what);
        System.out.flush();
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static UpdateConfigurationRequest update(List<String> keyPath, java.time.Instant at, Map<String, Object> v) {
        UpdateConfigurationRequest r = new UpdateConfigurationRequest();
        if (keyPath != null) {
            r.setKeyPath(keyPath);
        }
        if (at != null) {
            r.setTimestamp(at);
        }
        if (v != null) {
            r.setValueToMerge(v);
        }
        return r;
    }

    static Map<String, Object> value(Client c, String... keys) throws Exception {
        return c.getConfiguration(new GetConfigurationRequest().withKeyPath(Arrays.asList(keys))).getValue();
    }

    @SuppressWarnings("unchecked")
    static Object at(Map<String, Object> m, String... keys) {
        Object node = m;
        for (String k : keys) {
            if (!(node instanceof Map)) {
                return null;
            }
            node = ((Map<String, Object>) node).get(k);
        }
        return node;
    }

    static String configScenario(String api, String scenario) throws Exception {
        Client c = new Client(api);
        java.time.Instant now = java.time.Instant.now();
        String out = "";
        switch (scenario) {
            case "config_get": {
                GetConfigurationResponse r = c.getConfiguration(new GetConfigurationRequest());
                check(COMPONENT.equals(r.getComponentName()), "componentName " + r.getComponentName());
                Map<String, Object> v = r.getValue();
                Object rate = at(v, "settings", "rate");
                check("conf/settings".equals(at(v, "settings", "topic")) && rate instanceof Number
                        && ((Number) rate).doubleValue() == 5 && Boolean.TRUE.equals(at(v, "settings", "nested", "flag")),
                        "whole configuration " + v);
                Map<String, Object> leaf = c.getConfiguration(new GetConfigurationRequest().withComponentName(COMPONENT)
                        .withKeyPath(Arrays.asList("settings", "topic"))).getValue();
                check(map("topic", "conf/settings").equals(leaf), "leaf " + leaf);
                Map<String, Object> obj = value(c, "settings", "nested");
                check(map("flag", true).equals(obj), "object " + obj);
                break;
            }
            case "config_update": {
                String id = UUID.randomUUID().toString().substring(0, 8);
                Collector<ConfigurationUpdateEvents> ev = new Collector<>();
                c.subscribeToConfigurationUpdate(new SubscribeToConfigurationUpdateRequest()
                        .withKeyPath(Arrays.asList("scratch")), ev);
                c.updateConfiguration(update(Arrays.asList("scratch", id), now, map("value", "one")));
                List<String> want = Arrays.asList("scratch", id, "value");
                Predicate<List<ConfigurationUpdateEvents>> one = l -> l.stream()
                        .filter(e -> want.equals(e.getConfigurationUpdateEvent().getKeyPath())).count() >= 1;
                ev.await(one, "the event for scratch/" + id + "/value");
                ConfigurationUpdateEvent first = ev.get(0).getConfigurationUpdateEvent();
                check(COMPONENT.equals(first.getComponentName()), "event componentName " + first.getComponentName());
                Map<String, Object> got = value(c, "scratch", id, "value");
                check(map("value", "one").equals(got), "after the update " + got);
                c.updateConfiguration(update(null, java.time.Instant.now(),
                        map("scratch", map(id, map("value", "two")))));
                ev.await(l -> l.stream().filter(e -> want.equals(e.getConfigurationUpdateEvent().getKeyPath()))
                        .count() >= 2, "the second event");
                got = value(c, "scratch", id);
                check(map("value", "two").equals(got), "after the root update " + got);
                List<List<String>> paths = new ArrayList<>();
                synchronized (ev) {
                    for (ConfigurationUpdateEvents e : ev.items) {
                        paths.add(e.getConfigurationUpdateEvent().getKeyPath());
                    }
                }
                for (List<String> p : paths) {
                    check(p.size() >= 2 && p.get(0).equals("scratch") && p.get(1).equals(id), "events " + paths);
                }
                out = "events " + paths;
                break;
            }
            case "config_update_refused": {
                List<String> k = Arrays.asList("scratch", UUID.randomUUID().toString().substring(0, 8));
                c.updateConfiguration(update(k, now, map("value", "a")));
                c.updateConfiguration(update(k, now.plusSeconds(3600), map("value", "future")));
                out = expectError(() -> c.updateConfiguration(update(k, java.time.Instant.now(), map("value", "older"))),
                        "FailedUpdateConditionCheckError",
                        "Proposed timestamp is older than the config's latest modified timestamp");
                Map<String, Object> got = value(c, k.get(0), k.get(1), "value");
                check(map("value", "future").equals(got), "after the refused update " + got);
                break;
            }
            case "config_invalid": {
                List<String> scratch = Arrays.asList("scratch");
                out = expectError(() -> c.updateConfiguration(update(scratch, null, map("a", "b"))),
                        "InvalidArgumentsError", "Timestamp is required") + " (and the others)";
                expectError(() -> c.updateConfiguration(update(scratch, now, null)), "InvalidArgumentsError",
                        "ValueToMerge is required");
                expectError(() -> c.updateConfiguration(update(null, now, map("accessControl", map()))),
                        "InvalidArgumentsError", "Config update is not allowed for following fields [accessControl]");
                expectError(() -> c.updateConfiguration(update(Arrays.asList("accessControl", "x"), now,
                        map("a", "b"))), "InvalidArgumentsError",
                        "Config update is not allowed for following fields [accessControl]");
                expectError(() -> value(c, "settings", "missing"), "ResourceNotFoundError", "Key not found");
                expectError(() -> c.getConfiguration(new GetConfigurationRequest().withComponentName("no.Such.Component")),
                        "ResourceNotFoundError", "Key not found");
                expectError(() -> c.subscribeToConfigurationUpdate(new SubscribeToConfigurationUpdateRequest()
                        .withKeyPath(Arrays.asList("missing")), new Collector<>()), "ResourceNotFoundError",
                        "Key not found");
                break;
            }
            case "config_validate": {
                Collector<ValidateConfigurationUpdateEvents> ev = new Collector<>();
                c.subscribeToValidateConfigurationUpdates(ev);
                trigger("validate");
                ev.await(l -> !l.isEmpty(), "the validation event");
                ValidateConfigurationUpdateEvent e = ev.get(0).getValidateConfigurationUpdateEvent();
                check(e != null && e.getDeploymentId() != null, "validation event " + e);
                Map<String, Object> conf = e.getConfiguration();
                check("yes".equals(at(conf, "scratch", "validated"))
                        && "conf/settings".equals(at(conf, "settings", "topic")), "proposed configuration " + conf);
                c.sendConfigurationValidityReport(new ConfigurationValidityReport()
                        .withStatus(ConfigurationValidityStatus.REJECTED).withDeploymentId(e.getDeploymentId())
                        .withMessage("conformance rejects"));
                out = "deployment " + e.getDeploymentId() + " rejected";
                break;
            }
            case "update_state": {
                c.updateState(new UpdateStateRequest().withState(ReportedLifecycleState.RUNNING));
                out = expectError(() -> c.updateState(new UpdateStateRequest()), "InvalidArgumentsError",
                        "State is required");
                break;
            }
            case "lifecycle_invalid": {
                DeferComponentUpdateRequest defer = new DeferComponentUpdateRequest().withDeploymentId("d-none")
                        .withRecheckAfterMs(1000L);
                out = expectError(() -> c.deferComponentUpdate(defer), "InvalidArgumentsError",
                        "Component is not subscribed to component update events") + " (and the others)";
                expectError(() -> c.sendConfigurationValidityReport(new ConfigurationValidityReport()
                        .withStatus(ConfigurationValidityStatus.ACCEPTED).withDeploymentId("d-none")),
                        "InvalidArgumentsError", "Validation request either timed out or was never made");
                expectError(() -> c.sendConfigurationValidityReport(new ConfigurationValidityReport()
                        .withStatus(ConfigurationValidityStatus.ACCEPTED)), "InvalidArgumentsError",
                        "Cannot accept configuration validity report, the deployment ID provided was null");
                c.subscribeToComponentUpdates(new Collector<>());
                expectError(() -> c.deferComponentUpdate(defer), "ServiceError",
                        "Time limit to respond to PreComponentUpdateEvent exceeded");
                break;
            }
            case "component_updates": {
                Collector<ComponentUpdatePolicyEvents> ev = new Collector<>();
                c.subscribeToComponentUpdates(ev);
                trigger("deploy");
                ev.await(l -> !l.isEmpty(), "the pre-update event");
                PreComponentUpdateEvent pre = ev.get(0).getPreUpdateEvent();
                check(pre != null && pre.getDeploymentId() != null, "first event " + ev.get(0));
                check(Boolean.FALSE.equals(pre.isIsGgcRestarting()), "isGgcRestarting " + pre.isIsGgcRestarting());
                String id = pre.getDeploymentId();
                c.deferComponentUpdate(new DeferComponentUpdateRequest().withDeploymentId(id)
                        .withMessage("conformance busy").withRecheckAfterMs(500L));
                ev.await(l -> l.size() >= 2, "the pre-update event after the deferral");
                PreComponentUpdateEvent again = ev.get(1).getPreUpdateEvent();
                check(again != null && id.equals(again.getDeploymentId()), "second event " + ev.get(1));
                c.deferComponentUpdate(new DeferComponentUpdateRequest().withDeploymentId(id).withRecheckAfterMs(0L));
                ev.await(l -> l.size() >= 3, "the post-update event");
                PostComponentUpdateEvent post = ev.get(2).getPostUpdateEvent();
                check(post != null && id.equals(post.getDeploymentId()), "third event " + ev.get(2));
                out = "deployment " + id + ": deferred once, then post-update";
                break;
            }
            default:
                throw new Fail("unknown scenario");
        }
        c.close();
        return out;
    }

    static String unique(String prefix) {
        return "conf/" + prefix + "/" + UUID.randomUUID().toString().substring(0, 8);
    }

    static PublishToIoTCoreRequest pub(String topic, QOS qos, byte[] payload) {
        return new PublishToIoTCoreRequest().withTopicName(topic).withQos(qos).withPayload(payload);
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    interface Call {
        void run() throws Exception;
    }

    static String expectError(Call call, String cls, String text) throws Fail {
        try {
            call.run();
        } catch (Throwable t) {
            Throwable e = unwrap(t);
            String name = e.getClass().getSimpleName();
            check(name.equals(cls), "expected " + cls + ", got " + e);
            check(e.getMessage() != null && e.getMessage().contains(text),
                    name + " message \"" + e.getMessage() + "\" does not contain \"" + text + "\"");
            return name + ": " + e.getMessage();
        }
        throw new Fail("expected " + cls + ", the call succeeded");
    }

    static String run(String api, String scenario) throws Exception {
        if (scenario.startsWith("config_") || scenario.equals("update_state") || scenario.equals("lifecycle_invalid")
                || scenario.equals("component_updates")) {
            return configScenario(api, scenario);
        }
        switch (scenario) {
            case "connect_good": {
                new Client(api).close();
                return "";
            }
            case "connect_bad_token": {
                long t0 = System.nanoTime();
                Client c;
                try {
                    c = new Client(api);
                } catch (Throwable t) {
                    return String.format("refused in %.2f s with %s", (System.nanoTime() - t0) / 1e9, unwrap(t));
                }
                try {
                    c.publish(pub(unique("bad"), QOS.AT_MOST_ONCE, new byte[] {1}));
                } catch (Throwable t) {
                    return "connect returned but the first call failed with " + unwrap(t);
                }
                throw new Fail("a bad token was accepted");
            }
            case "publish_qos0_mqtt5":
                return mqtt5(api, QOS.AT_MOST_ONCE);
            case "publish_qos1_mqtt5":
                return mqtt5(api, QOS.AT_LEAST_ONCE);
            case "wildcard": {
                Client c = new Client(api);
                String base = unique("wild");
                Events plus = new Events();
                Events hash = new Events();
                c.subscribe(base + "/+/x", plus);
                c.subscribe(base + "/#", hash);
                c.publish(pub(base + "/a/x", QOS.AT_LEAST_ONCE, new byte[] {1}));
                c.publish(pub(base + "/b/y", QOS.AT_LEAST_ONCE, new byte[] {2}));
                hash.await(e -> e.items.size() >= 2, "two events on #");
                plus.await(e -> e.items.size() >= 1, "one event on +/x");
                synchronized (hash) {
                    check(hash.items.get(0).getTopicName().equals(base + "/a/x")
                            && hash.items.get(1).getTopicName().equals(base + "/b/y"), "order or topics on #");
                }
                synchronized (plus) {
                    check(plus.items.size() == 1 && plus.items.get(0).getTopicName().equals(base + "/a/x"),
                            "+/x got " + plus.items.size() + " events");
                }
                c.close();
                return "";
            }
            case "binary_payload": {
                byte[] all = new byte[256];
                for (int i = 0; i < 256; i++) {
                    all[i] = (byte) i;
                }
                return roundtrip(api, all);
            }
            case "payload_128k": {
                byte[] big = new byte[131072];
                new Random(7).nextBytes(big);
                return roundtrip(api, big);
            }
            case "service_error": {
                Client c = new Client(api);
                String r = expectError(() -> c.publish(pub(unique("big"), QOS.AT_LEAST_ONCE, new byte[131073])),
                        "ServiceError", "exceeds the configured limit of 131072 bytes");
                c.close();
                return r;
            }
            case "unauthorized": {
                Client c = new Client(api);
                String r = expectError(() -> c.publish(pub("forbidden/x", QOS.AT_MOST_ONCE, new byte[] {1})),
                        "UnauthorizedError", "Not Authorized");
                expectError(() -> c.subscribe("forbidden/#", new Events()), "UnauthorizedError", "Not Authorized");
                c.close();
                return r + " (publish and subscribe)";
            }
            case "invalid_arguments": {
                Client c = new Client(api);
                String r = expectError(() -> c.publish(new PublishToIoTCoreRequest().withTopicName(unique("inv"))
                        .withPayload(new byte[] {1})), "InvalidArgumentsError", "QoS is required");
                c.close();
                return r;
            }
            case "server_terminate": {
                Client c = new Client(api);
                Events ev = new Events();
                c.subscribe(unique("term"), ev);
                c.publish(pub("conf/ctl/terminate", QOS.AT_MOST_ONCE, new byte[] {1}));
                ev.await(e -> e.closed, "onStreamClosed");
                c.publish(pub(unique("term"), QOS.AT_LEAST_ONCE, new byte[] {1}));
                c.close();
                return "";
            }
            case "server_ping": {
                Client c = new Client(api);
                c.publish(pub("conf/ctl/ping", QOS.AT_MOST_ONCE, new byte[] {1}));
                c.publish(pub(unique("ping"), QOS.AT_LEAST_ONCE, new byte[] {1}));
                c.publish(pub(unique("ping"), QOS.AT_LEAST_ONCE, new byte[] {1}));
                c.close();
                return "connection still serves after the server's PING (the API has no ping callback to check)";
            }
            case "close_while_streaming": {
                Client c = new Client(api);
                String topic = unique("flood");
                Events ev = new Events();
                SubscribeToIoTCoreResponseHandler h = c.subscribe(topic, ev);
                List<Future<?>> futs = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    futs.add(c.publishAsync(pub(topic, QOS.AT_MOST_ONCE, ("" + i).getBytes(StandardCharsets.UTF_8))));
                }
                ev.await(e -> !e.items.isEmpty(), "the first event");
                h.closeStream().get(T, TimeUnit.SECONDS);
                for (Future<?> f : futs) {
                    f.get(T, TimeUnit.SECONDS);
                }
                c.publish(pub(topic, QOS.AT_LEAST_ONCE, new byte[] {1}));
                Events ev2 = new Events();
                c.subscribe(topic, ev2);
                for (int i = 0; i < 200; i++) {
                    c.publishAsync(pub(topic, QOS.AT_MOST_ONCE, ("" + i).getBytes(StandardCharsets.UTF_8)));
                }
                ev2.await(e -> !e.items.isEmpty(), "the first event of the second subscription");
                CompletableFuture<Void> closed = CompletableFuture.runAsync(() -> {
                    try {
                        c.close();
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                });
                closed.get(T, TimeUnit.SECONDS);
                Client c2 = new Client(api);
                c2.publish(pub(topic, QOS.AT_LEAST_ONCE, new byte[] {1}));
                c2.close();
                return "";
            }
            case "local_pubsub": {
                Client c = new Client(api);
                String topic = unique("local");
                LocalEvents ev = new LocalEvents();
                c.subscribeLocal(topic, ev);
                Map<String, Object> json = new java.util.LinkedHashMap<>();
                json.put("s", "\u00fc");
                c.publishLocal(topic, new PublishMessage().withJsonMessage(new JsonMessage().withMessage(json)));
                byte[] all = new byte[256];
                for (int i = 0; i < 256; i++) {
                    all[i] = (byte) i;
                }
                c.publishLocal(topic, new PublishMessage().withBinaryMessage(new BinaryMessage().withMessage(all)));
                ev.await(2, "two local messages");
                SubscriptionResponseMessage j;
                SubscriptionResponseMessage b;
                synchronized (ev) {
                    j = ev.items.get(0);
                    b = ev.items.get(1);
                }
                check(j.getJsonMessage() != null && j.getBinaryMessage() == null, "first event " + j);
                check(json.equals(j.getJsonMessage().getMessage()), "JSON message " + j.getJsonMessage().getMessage());
                check(j.getJsonMessage().getContext() != null
                        && topic.equals(j.getJsonMessage().getContext().getTopic()), "JSON context");
                check(b.getBinaryMessage() != null && b.getJsonMessage() == null, "second event " + b);
                check(Arrays.equals(all, b.getBinaryMessage().getMessage()), "binary message differs");
                check(b.getBinaryMessage().getContext() != null
                        && topic.equals(b.getBinaryMessage().getContext().getTopic()), "binary context");
                c.close();
                return "";
            }
            case "local_pubsub_invalid": {
                Client c = new Client(api);
                String r = expectError(() -> c.publishLocal(unique("local"), null), "InvalidArgumentsError",
                        "Publish message is required");
                PublishMessage one = new PublishMessage().withBinaryMessage(new BinaryMessage().withMessage(new byte[] {1}));
                expectError(() -> c.publishLocal("forbidden/x", one), "UnauthorizedError",
                        "is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on "
                        + "resource forbidden/x");
                c.close();
                return r + " (and UnauthorizedError outside the policy)";
            }
            default:
                throw new Fail("unknown scenario");
        }
    }

    static String mqtt5(String api, QOS qos) throws Exception {
        Client c = new Client(api);
        String topic = unique("mqtt5");
        Events ev = new Events();
        c.subscribe(topic, ev);
        byte[] corr = {0, 'c', 'o', 'r', 'r', (byte) 0xff};
        c.publish(pub(topic, qos, "hello mqtt5".getBytes(StandardCharsets.UTF_8)).withRetain(false)
                .withUserProperties(Arrays.asList(new UserProperty().withKey("k1").withValue("v1"),
                        new UserProperty().withKey("k2").withValue("v2")))
                .withMessageExpiryIntervalSeconds(3600L).withCorrelationData(corr).withResponseTopic("conf/reply")
                .withPayloadFormat(PayloadFormat.UTF8).withContentType("text/plain"));
        ev.await(e -> !e.items.isEmpty(), "the event");
        MQTTMessage m;
        synchronized (ev) {
            m = ev.items.get(0);
        }
        check(m.getTopicName().equals(topic), "topic " + m.getTopicName());
        check(new String(m.getPayload(), StandardCharsets.UTF_8).equals("hello mqtt5"), "payload");
        List<UserProperty> props = m.getUserProperties();
        check(props != null && props.size() == 2 && props.get(0).getKey().equals("k1")
                && props.get(0).getValue().equals("v1") && props.get(1).getKey().equals("k2")
                && props.get(1).getValue().equals("v2"), "user properties " + props);
        check(Arrays.equals(m.getCorrelationData(), corr), "correlation data");
        check("conf/reply".equals(m.getResponseTopic()), "response topic " + m.getResponseTopic());
        check(m.getPayloadFormat() == PayloadFormat.UTF8, "payload format " + m.getPayloadFormat());
        Long exp = m.getMessageExpiryIntervalSeconds();
        check(exp != null && exp > 0 && exp <= 3600, "message expiry " + exp);
        c.close();
        return "all fields delivered (contentType " + (m.getContentType() != null ? "kept" : "dropped") + ")";
    }

    static String roundtrip(String api, byte[] payload) throws Exception {
        Client c = new Client(api);
        String topic = unique("payload");
        Events ev = new Events();
        c.subscribe(topic, ev);
        c.publish(pub(topic, QOS.AT_LEAST_ONCE, payload));
        ev.await(e -> !e.items.isEmpty(), "the event");
        byte[] got;
        synchronized (ev) {
            got = ev.items.get(0).getPayload();
        }
        check(Arrays.equals(got, payload), "payload differs (" + got.length + " bytes back)");
        c.close();
        return "";
    }

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') {
                b.append('\\').append(ch);
            } else if (ch < 0x20) {
                b.append(String.format("\\u%04x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) {
        String scenario = args[1];
        boolean ok;
        String reason;
        try {
            reason = run(args[0], scenario);
            ok = true;
        } catch (Fail f) {
            ok = false;
            reason = f.getMessage();
        } catch (Throwable t) {
            ok = false;
            Throwable e = unwrap(t);
            StackTraceElement[] st = e.getStackTrace();
            reason = e + (st.length > 0 ? " (at " + st[0] + ")" : "");
        }
        System.out.println("{\"scenario\":" + json(scenario) + ",\"ok\":" + ok + ",\"reason\":" + json(reason) + "}");
        System.out.flush();
        Runtime.getRuntime().halt(0); // a stuck native thread must not keep the process alive
    }
}
