// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.BinaryMessage;
import io.ggipc.greengrass.model.PublishMessage;
import io.ggipc.greengrass.model.PublishToTopicRequest;
import io.ggipc.greengrass.model.SubscribeToTopicRequest;
import io.ggipc.greengrass.model.SubscriptionResponseMessage;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Local pub/sub under failure through the Java client: a 10 MB+ message, and a nucleus restart under a reconnecting subscriber. */
class LocalPubSubFailuresTest {
    static final String ALL_PUBSUB = "{\"aws.greengrass.ipc.pubsub\": {\"p\": {\"operations\": [\"*\"],"
            + " \"resources\": [\"*\"]}}}";

    static PublishToTopicRequest binary(String topic, byte[] bytes) {
        return new PublishToTopicRequest().withTopic(topic)
                .withPublishMessage(new PublishMessage().withBinaryMessage(new BinaryMessage().withMessage(bytes)));
    }

    static String text(SubscriptionResponseMessage m) {
        BinaryMessage b = m.getBinaryMessage();
        return new String(b.getMessage(), StandardCharsets.UTF_8) + "@" + b.getContext().getTopic();
    }

    @Test
    void aTenMegabyteMessageIsDeliveredIntactAndOnePastTheFrameLimitIsATypedError() throws Exception {
        try (LocalNucleus n = LocalNucleus.builder("com.example.Pub").policy(ALL_PUBSUB).start();
                GreengrassCoreIPCClientV2 pub = n.clientBuilder().build();
                GreengrassCoreIPCClientV2 sub = GreengrassCoreIPCClientV2.builder().withSocketPath(n.getSocketPath())
                        .withAuthToken(n.addComponent("com.example.Sub", ALL_PUBSUB, null)).build()) {
            LinkedBlockingQueue<SubscriptionResponseMessage> got = new LinkedBlockingQueue<>();
            sub.subscribeToTopic(new SubscribeToTopicRequest().withTopic("big"), got::add, Optional.empty(),
                    Optional.empty());
            n.waitForLocalSubscription("big");
            byte[] bytes = new byte[10 * 1024 * 1024 + 1];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (i % 251);
            }
            pub.publishToTopic(binary("big", bytes));
            SubscriptionResponseMessage m = got.poll(30, TimeUnit.SECONDS);
            assertNotNull(m, "the 10 MB message did not arrive");
            assertArrayEquals(bytes, m.getBinaryMessage().getMessage());
            assertEquals("big", m.getBinaryMessage().getContext().getTopic());

            // 20 MiB of bytes is a 26.7 MiB frame, past the event stream's 24 MiB limit: refused before it is
            // sent, with the library's error; the client goes on working.
            EventStreamRPCException e = assertThrows(EventStreamRPCException.class,
                    () -> pub.publishToTopic(binary("big", new byte[20 * 1024 * 1024])));
            assertTrue(e.getMessage().contains("exceeds the limit of 25165824 bytes"), e.getMessage());
            pub.publishToTopic(binary("big", "after".getBytes(StandardCharsets.UTF_8)));
            assertEquals("after@big", text(got.poll(10, TimeUnit.SECONDS)));
        }
    }

    @Test
    void aReconnectingLocalSubscriberResubscribesAfterARestart() throws Exception {
        try (LocalNucleus n = LocalNucleus.builder("com.example.Sub").policy(ALL_PUBSUB).start();
                GreengrassCoreIPCClientV2 c = n.clientBuilder().withReconnect(true).build()) {
            LinkedBlockingQueue<String> got = new LinkedBlockingQueue<>();
            c.subscribeToTopic(new SubscribeToTopicRequest().withTopic("restart/+"), m -> got.add(text(m)),
                    // Keep the stream on errors: the connection loss is reported as one, then it resumes.
                    Optional.of(err -> false), Optional.empty());
            n.waitForLocalSubscription("restart/+");
            assertEquals(1, n.publishLocal("restart/a", "before".getBytes(StandardCharsets.UTF_8)));
            assertEquals("before@restart/a", got.poll(5, TimeUnit.SECONDS));
            n.restart();
            n.waitForLocalSubscription("restart/+", Duration.ofSeconds(15));
            assertEquals(1, n.publishLocal("restart/b", "after".getBytes(StandardCharsets.UTF_8)));
            assertEquals("after@restart/b", got.poll(5, TimeUnit.SECONDS));
            // Its own requests work again too.
            try (GreengrassCoreIPCClientV2 pub = GreengrassCoreIPCClientV2.builder().withSocketPath(n.getSocketPath())
                    .withAuthToken(n.addComponent("com.example.Pub", ALL_PUBSUB, null)).build()) {
                pub.publishToTopic(binary("restart/c", "later".getBytes(StandardCharsets.UTF_8)));
            }
            assertEquals("later@restart/c", got.poll(5, TimeUnit.SECONDS));
        }
    }
}
