// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.EventStreamTimeoutException;
import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.GetConfigurationRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.ServiceError;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.UnauthorizedError;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** LocalNucleus used directly, the way a test without the extension would. */
class LocalNucleusTest {
    static final String ALL_MQTT = "{\"aws.greengrass.ipc.mqttproxy\": {\"p\": {\"operations\": [\"*\"],"
            + " \"resources\": [\"*\"]}}}";

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void publish(GreengrassCoreIPCClientV2 c, String topic, QOS qos, String payload) throws Exception {
        c.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName(topic).withQos(qos).withPayload(utf8(payload)));
    }

    @Test
    void publishesInjectsAndFailures() throws Exception {
        try (LocalNucleus n = LocalNucleus.builder("com.example.J").policy(ALL_MQTT).start();
                GreengrassCoreIPCClientV2 c = n.clientBuilder().build()) {
            assertEquals(n.getSocketPath(), n.env().get(EventStreamRPCConnectionConfig.SOCKET_ENV));
            assertEquals(n.getToken(), n.env().get(EventStreamRPCConnectionConfig.TOKEN_ENV));
            publish(c, "out/a", QOS.AT_LEAST_ONCE, "one");
            Published p = n.waitForPublish("out/#");
            assertEquals("one", p.getPayloadAsString());
            assertEquals("1", p.getQos());
            assertEquals("com.example.J", p.getComponent());

            LinkedBlockingQueue<String> got = new LinkedBlockingQueue<>();
            c.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("in/#").withQos(QOS.AT_MOST_ONCE),
                    ev -> got.add(new String(ev.getMessage().getPayload(), StandardCharsets.UTF_8)), Optional.empty(),
                    Optional.empty());
            n.waitForSubscription("in/#");
            assertEquals(List.of("in/#"), n.getSubscriptions());
            assertEquals(1, n.inject("in/x", "hello"));
            assertEquals("hello", got.poll(5, TimeUnit.SECONDS));

            n.failPublishes("out/bad/#", "broker says no");
            ServiceError e = assertThrows(ServiceError.class, () -> publish(c, "out/bad/1", QOS.AT_LEAST_ONCE, "x"));
            assertTrue(e.getMessage().contains("broker says no"), e.getMessage());
            n.stopFailingPublishes();
            publish(c, "out/bad/1", QOS.AT_LEAST_ONCE, "x");

            n.setPolicy("com.example.J", null);
            assertThrows(UnauthorizedError.class, () -> publish(c, "out/a", QOS.AT_LEAST_ONCE, "x"));
        }
    }

    @Test
    void anOutageRefusesQos0AndSpoolsQos1() throws Exception {
        try (LocalNucleus n = LocalNucleus.builder("com.example.J").policy(ALL_MQTT).start();
                GreengrassCoreIPCClientV2 c = n.clientBuilder().build()) {
            n.setConnected(false);
            assertFalse(n.isConnected());
            ServiceError e = assertThrows(ServiceError.class, () -> publish(c, "out/q0", QOS.AT_MOST_ONCE, "x"));
            assertTrue(e.getMessage().contains("Device is offline. Dropping QoS 0 message."), e.getMessage());
            publish(c, "out/q1", QOS.AT_LEAST_ONCE, "spooled");
            assertEquals(1, n.getSpooled().size());
            assertEquals(0, n.getPublishedCount());
            assertEquals(0, n.inject("in/x", "nobody hears this"));
            n.setConnected(true);
            assertEquals("spooled", n.waitForPublish("out/q1").getPayloadAsString());
        }
    }

    @Test
    void aRestartKeepsTheSocketAndTokenForReconnectingClients() throws Exception {
        try (LocalNucleus n = LocalNucleus.builder("com.example.J").policy(ALL_MQTT).start();
                GreengrassCoreIPCClientV2 c = n.clientBuilder().withReconnect(true).build()) {
            c.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("in/#").withQos(QOS.AT_MOST_ONCE),
                    // Keep the stream on errors: a connection loss is reported as one (then resumed).
                    ev -> { }, Optional.of(e -> false), Optional.empty());
            String token = n.getToken();
            n.restart();
            assertEquals(token, n.getToken());
            n.waitForSubscription("in/#", Duration.ofSeconds(15));
            publish(c, "out/after", QOS.AT_LEAST_ONCE, "after");
            assertEquals("after", n.waitForPublish("out/after").getPayloadAsString());
            n.stop();
            assertFalse(Files.exists(Paths.get(n.getSocketPath())));
        }
    }

    @Test
    void configurationIsServedAndUpdated() throws Exception {
        String policy = "{\"aws.greengrass.ipc.config\": {\"c\": {\"operations\": [\"*\"], \"resources\": [\"*\"]}}}";
        try (LocalNucleus n = LocalNucleus.builder("com.example.J").policy(policy)
                .configuration("{\"interval\": 5}").start();
                GreengrassCoreIPCClientV2 c = n.clientBuilder().build()) {
            assertEquals(5, ((Number) c.getConfiguration(new GetConfigurationRequest()).getValue().get("interval"))
                    .intValue());
            n.updateConfiguration("com.example.J", Arrays.asList(), "{\"interval\": 7}");
            assertEquals("{\"interval\":7}", n.getConfiguration("com.example.J"));
            n.setConfiguration("com.example.J", "{\"interval\": 9}");
            assertEquals(9, ((Number) c.getConfiguration(new GetConfigurationRequest()).getValue().get("interval"))
                    .intValue());
        }
    }

    @Test
    void misuseFailsFastWithClearMessages() {
        RuntimeException bad = assertThrows(RuntimeException.class,
                () -> LocalNucleus.builder("com.example.J").policy("{not json").start());
        assertTrue(bad.getMessage().contains("not JSON"), bad.getMessage());
        LocalNucleus n = LocalNucleus.builder("com.example.NoPolicy").start();
        try {
            long start = System.nanoTime();
            EventStreamTimeoutException e = assertThrows(EventStreamTimeoutException.class,
                    () -> n.waitForPublishes("out/x", 1, Duration.ofMillis(100)));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2));
            assertTrue(e.getMessage().contains("nothing was published"), e.getMessage());
            assertTrue(e.getMessage().contains("no registered component (com.example.NoPolicy)"), e.getMessage());
            RuntimeException unknown = assertThrows(RuntimeException.class, () -> n.env("com.example.Unknown"));
            assertTrue(unknown.getMessage().contains("com.example.NoPolicy"), unknown.getMessage());
        } finally {
            n.close();
        }
        n.close(); // twice: nothing happens
        assertThrows(IllegalStateException.class, n::getSocketPath);
    }
}
