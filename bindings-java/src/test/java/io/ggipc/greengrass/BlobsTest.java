package io.ggipc.greengrass;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.greengrass.model.BinaryMessage;
import io.ggipc.greengrass.model.InvalidArgumentsError;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.JsonMessage;
import io.ggipc.greengrass.model.MQTTMessage;
import io.ggipc.greengrass.model.PublishMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToTopicRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.ReceiveMode;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToTopicRequest;
import io.ggipc.greengrass.model.SubscriptionResponseMessage;
import io.ggipc.internal.JsonReader;
import io.ggipc.internal.JsonWriter;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Blob members (payload, correlation data, binary messages) through publish and events: every byte value, empty
 * and large blobs. The native library writes and reads their base64; Java hands over and gets the bytes.
 */
class BlobsTest extends SharedTestServer {
    static byte[] everyByte() {
        byte[] b = new byte[256];
        for (int i = 0; i < 256; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i % 251);
        }
        return b;
    }

    static byte[][] payloads(int large) {
        return new byte[][] {everyByte(), new byte[0], pattern(large)};
    }

    @Test
    void iotCorePublishAndEventsCarryTheBytes() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = v2()) {
            BlockingQueue<IoTCoreMessage> got = new LinkedBlockingQueue<>();
            ipc.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("blobs/iot/#")
                    .withQos(QOS.AT_LEAST_ONCE), got::add, Optional.of(t -> false), Optional.empty());
            // 128 KiB: the server's (IoT Core's) largest payload
            for (byte[] p : payloads(128 * 1024)) {
                byte[] corr = java.util.Arrays.copyOf(p, Math.min(p.length, 300));
                ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("blobs/iot/" + p.length)
                        .withQos(QOS.AT_LEAST_ONCE).withPayload(p).withCorrelationData(corr));
                IoTCoreMessage ev = got.poll(10, TimeUnit.SECONDS);
                assertNotNull(ev, "no event for " + p.length + " bytes");
                MQTTMessage m = ev.getMessage();
                assertEquals("blobs/iot/" + p.length, m.getTopicName());
                assertArrayEquals(p, m.getPayload());
                assertArrayEquals(corr, m.getCorrelationData());
            }
        }
    }

    @Test
    void localBinaryMessagesRoundTripUpToOneMebibyte() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = v2()) {
            BlockingQueue<SubscriptionResponseMessage> got = new LinkedBlockingQueue<>();
            ipc.subscribeToTopic(new SubscribeToTopicRequest().withTopic("blobs/local")
                    .withReceiveMode(ReceiveMode.RECEIVE_ALL_MESSAGES), got::add, Optional.of(t -> false),
                    Optional.empty());
            for (byte[] p : payloads(1024 * 1024)) {
                ipc.publishToTopic(new PublishToTopicRequest().withTopic("blobs/local").withPublishMessage(
                        new PublishMessage().withBinaryMessage(new BinaryMessage().withMessage(p))));
                SubscriptionResponseMessage ev = got.poll(10, TimeUnit.SECONDS);
                assertNotNull(ev, "no event for " + p.length + " bytes");
                assertNull(ev.getJsonMessage());
                assertArrayEquals(p, ev.getBinaryMessage().getMessage());
                assertEquals("blobs/local", ev.getBinaryMessage().getContext().getTopic());
            }
        }
    }

    @Test
    void bytesInAJsonDocumentStayBase64TextAndOtherValuesStayRefused() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = v2()) {
            BlockingQueue<SubscriptionResponseMessage> got = new LinkedBlockingQueue<>();
            ipc.subscribeToTopic(new SubscribeToTopicRequest().withTopic("blobs/doc")
                    .withReceiveMode(ReceiveMode.RECEIVE_ALL_MESSAGES), got::add, Optional.of(t -> false),
                    Optional.empty());
            ipc.publishToTopic(new PublishToTopicRequest().withTopic("blobs/doc").withPublishMessage(
                    new PublishMessage().withJsonMessage(new JsonMessage().withMessage(
                            Map.of("b", new byte[] {1, 2, 3}, "message", "AAEC")))));
            SubscriptionResponseMessage ev = got.poll(10, TimeUnit.SECONDS);
            assertNotNull(ev);
            assertEquals(Map.of("b", "AQID", "message", "AAEC"), ev.getJsonMessage().getMessage());
            // what was not a JSON document value before is not one now
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ipc.publishToTopic(new PublishToTopicRequest().withTopic("blobs/doc").withPublishMessage(
                            new PublishMessage().withJsonMessage(new JsonMessage().withMessage(
                                    Map.of("o", new Object()))))));
            assertEquals("not a JSON document value: java.lang.Object", e.getMessage());
            // and a missing payload is the server's error, as before
            InvalidArgumentsError missing = assertThrows(InvalidArgumentsError.class,
                    () -> ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("blobs/iot/x")
                            .withQos(QOS.AT_MOST_ONCE)));
            assertEquals("Payload is required", missing.getMessage());
        }
    }

    @Test
    void theNativeFormIsOnlyForTheNativeLibrary() {
        byte[] p = everyByte();
        PublishToIoTCoreRequest r = new PublishToIoTCoreRequest().withTopicName("t").withPayload(p);
        // toJson is JSON with base64, as before
        String json = new String(r.toJson(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"payload\":\"" + Base64.getEncoder().encodeToString(p) + "\""), json);
        // the native form carries the bytes after a 0x00 marker and the length, and reads back the same
        JsonWriter w = JsonWriter.forNative();
        r.writeJson(w);
        byte[] raw = w.toByteArray();
        assertTrue(raw.length < json.length(), "the bytes, not their base64");
        PublishToIoTCoreRequest back = PublishToIoTCoreRequest.readJson(new JsonReader(raw));
        assertArrayEquals(p, back.getPayload());
        assertEquals("t", back.getTopicName());
        // and plain JSON with base64 still reads
        assertArrayEquals(p, PublishToIoTCoreRequest.fromJson(r.toJson()).getPayload());
    }
}
