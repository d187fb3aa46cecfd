// SPDX-License-Identifier: Apache-2.0
package com.example.forwarder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.testing.LocalNucleus;
import io.ggipc.testing.LocalNucleusExtension;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The forwarder tested with io.ggipc:ggipc-testing: happy path, denied topic, broker outage, nucleus restart. */
class ForwarderTest {
    // The component's recipe accessControl: local commands in, two telemetry topics out.
    static final String POLICY = "{"
            + "\"aws.greengrass.ipc.pubsub\": {\"com.example.Forwarder:commands\": {"
            + "  \"operations\": [\"aws.greengrass#SubscribeToTopic\"], \"resources\": [\"commands/#\"]}},"
            + "\"aws.greengrass.ipc.mqttproxy\": {\"com.example.Forwarder:telemetry\": {"
            + "  \"operations\": [\"aws.greengrass#PublishToIoTCore\"],"
            + "  \"resources\": [\"telemetry/temperature\", \"telemetry/humidity\"]}}}";
    static final Duration WAIT = Duration.ofSeconds(5);

    @RegisterExtension
    static LocalNucleusExtension nucleusExtension = LocalNucleusExtension.forComponent("com.example.Forwarder")
            .policy(POLICY);

    Forwarder forwarder;

    @BeforeEach
    void start(LocalNucleus nucleus) throws Exception {
        forwarder = new Forwarder(nucleus.clientBuilder().withReconnect(true).build());
        nucleus.waitForLocalSubscription("commands/#");
    }

    @AfterEach
    void stop() {
        forwarder.close();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void forwardsACommandToTelemetry(LocalNucleus nucleus) throws Exception {
        assertEquals(1, nucleus.publishLocal("commands/temperature", utf8("21.5")));
        assertEquals("21.5", nucleus.waitForPublish("telemetry/temperature").getPayloadAsString());
        // The nucleus records the publish before its answer reaches the component: wait for that too.
        assertTrue(forwarder.waitHandled(1, WAIT));
        assertEquals(1, forwarder.forwarded());
    }

    @Test
    void aDeniedTopicIsReportedAndForwardingGoesOn(LocalNucleus nucleus) throws Exception {
        nucleus.publishLocal("commands/secret", utf8("x"));
        nucleus.publishLocal("commands/humidity", utf8("40"));
        assertEquals("40", nucleus.waitForPublish("telemetry/humidity").getPayloadAsString());
        assertTrue(forwarder.waitHandled(2, WAIT));
        List<String> errors = forwarder.errors();
        assertEquals(1, errors.size());
        assertTrue(errors.get(0).startsWith("UnauthorizedError"), errors.toString());
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> nucleus.waitForPublishes("telemetry/secret", 1, Duration.ofMillis(100)));
        assertTrue(e.getMessage().contains("policy allowing aws.greengrass#PublishToIoTCore on 'telemetry/secret'"),
                e.getMessage());
    }

    @Test
    void commandsDuringABrokerOutageAreSpooledAndSentAfterIt(LocalNucleus nucleus) throws Exception {
        nucleus.setConnected(false);
        nucleus.publishLocal("commands/temperature", utf8("during"));
        assertTrue(forwarder.waitHandled(1, WAIT));
        assertEquals(1, forwarder.forwarded()); // answered once spooled
        assertEquals(1, nucleus.getSpooled().size());
        assertEquals(0, nucleus.getPublishedCount());
        nucleus.setConnected(true);
        assertEquals("during", nucleus.waitForPublish("telemetry/temperature").getPayloadAsString());
        assertTrue(forwarder.errors().isEmpty());
    }

    @Test
    void forwardingResumesAfterANucleusRestart(LocalNucleus nucleus) throws Exception {
        nucleus.restart();
        nucleus.waitForLocalSubscription("commands/#", Duration.ofSeconds(15));
        nucleus.publishLocal("commands/temperature", utf8("after"));
        assertEquals("after", nucleus.waitForPublish("telemetry/temperature").getPayloadAsString());
        assertTrue(forwarder.waitHandled(1, WAIT));
        assertTrue(forwarder.errors().isEmpty(), forwarder.errors().toString());
    }
}
