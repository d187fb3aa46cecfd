package io.ggipc.eventstreamrpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Reconnect and the subscription queue size, as in the other bindings, with the library's defaults. */
class ConfigParityTest extends SharedTestServer {
    static PublishToIoTCoreRequest publish(String topic, String payload) {
        return new PublishToIoTCoreRequest().withTopicName(topic).withQos(QOS.AT_LEAST_ONCE)
                .withPayload(payload.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void defaults() {
        EventStreamRPCConnectionConfig c = new EventStreamRPCConnectionConfig("s", "t");
        assertFalse(c.isReconnect());
        assertNull(c.getSubscriptionQueueSize());
        assertThrows(IllegalArgumentException.class, () -> c.withSubscriptionQueueSize(0));
    }

    @Test
    void aSmallQueueOverflowsAndReportsEveryDrop() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket)
                .withAuthToken(server.fullToken).withSubscriptionQueueSize(8).build()) {
            int n = 3000;
            AtomicInteger received = new AtomicInteger();
            AtomicLong dropped = new AtomicLong();
            CountDownLatch release = new CountDownLatch(1);
            ipc.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("cfg/small").withQos(QOS.AT_MOST_ONCE),
                    m -> {
                        if (received.getAndIncrement() == 0) {
                            try {
                                // Hold the dispatcher while the burst arrives: 8 slots overflow.
                                release.await(2, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }
                    }, Optional.of(t -> {
                        if (t instanceof MessagesDroppedException) {
                            dropped.addAndGet(((MessagesDroppedException) t).getDropped());
                        }
                        return false;
                    }), Optional.empty());
            ipc.publishToIoTCore(publish("ggipc/test/burst", n + " 16 cfg/small"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (received.get() + dropped.get() < n && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            release.countDown();
            assertTrue(dropped.get() > 0, "drops were reported");
            assertEquals(n, received.get() + dropped.get(), "every message was either delivered or reported");
        }
    }

    @Test
    void reconnectingClientWorksAndReportsItsOwnClose() throws Exception {
        BlockingQueue<Integer> disconnects = new LinkedBlockingQueue<>();
        EventStreamRPCConnection c = new EventStreamRPCConnection(
                new EventStreamRPCConnectionConfig(server.socket, server.fullToken).withReconnect(true));
        c.connect(new EventStreamRPCConnection.LifecycleHandler() {
            @Override
            public void onConnect() {}

            @Override
            public void onDisconnect(int errorCode) {
                disconnects.add(errorCode);
            }

            @Override
            public boolean onError(Throwable t) {
                return false;
            }
        }).get(10, TimeUnit.SECONDS);
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder()
                .withClient(new io.ggipc.greengrass.GreengrassCoreIPCClient(c)).build()) {
            ipc.publishToIoTCore(publish("cfg/re", "x"));
        }
        c.close();
        assertEquals(0, disconnects.poll(10, TimeUnit.SECONDS));
        assertFalse(c.isConnected());
    }
}
