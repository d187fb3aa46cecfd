package io.ggipc.greengrass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreResponse;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToIoTCoreResponse;
import io.ggipc.greengrass.model.UnauthorizedError;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ClientV2Test extends SharedTestServer {
    static GreengrassCoreIPCClientV2 client(String token) throws IOException {
        return GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket).withAuthToken(token).build();
    }

    static PublishToIoTCoreRequest publish(String topic, String payload) {
        return new PublishToIoTCoreRequest().withTopicName(topic).withQos(QOS.AT_LEAST_ONCE)
                .withPayload(payload.getBytes(StandardCharsets.UTF_8));
    }

    static SubscribeToIoTCoreRequest subscribe(String filter) {
        return new SubscribeToIoTCoreRequest().withTopicName(filter).withQos(QOS.AT_MOST_ONCE);
    }

    static String text(IoTCoreMessage m) {
        return new String(m.getMessage().getPayload(), StandardCharsets.UTF_8);
    }

    @Test
    void syncAndAsyncPublishAndLambdaSubscribe() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = client(server.fullToken)) {
            BlockingQueue<IoTCoreMessage> got = new LinkedBlockingQueue<>();
            CountDownLatch closed = new CountDownLatch(1);
            GreengrassCoreIPCClientV2.StreamingResponse<SubscribeToIoTCoreResponse, SubscribeToIoTCoreResponseHandler> s =
                    ipc.subscribeToIoTCore(subscribe("v2/basic"), got::add, Optional.of(t -> false),
                            Optional.of(closed::countDown));
            assertInstanceOf(SubscribeToIoTCoreResponse.class, s.getResponse());
            assertInstanceOf(PublishToIoTCoreResponse.class, ipc.publishToIoTCore(publish("v2/basic", "sync")));
            assertEquals("sync", text(got.poll(10, TimeUnit.SECONDS)));
            List<CompletableFuture<PublishToIoTCoreResponse>> fs = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                fs.add(ipc.publishToIoTCoreAsync(publish("v2/basic", "a" + i)));
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 1000; i++) {
                IoTCoreMessage m = got.poll(10, TimeUnit.SECONDS);
                assertNotNull(m, "message " + i);
                assertEquals("a" + i, text(m));
            }
            s.getHandler().closeStream();
            assertTrue(closed.await(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void syncErrorsAreThrownDirectly() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = client(server.limitedToken)) {
            UnauthorizedError e = assertThrows(UnauthorizedError.class,
                    () -> ipc.publishToIoTCore(publish("denied/x", "no")));
            assertEquals("Not Authorized", e.getMessage());
            assertThrows(UnauthorizedError.class,
                    () -> ipc.subscribeToIoTCore(subscribe("denied/#"), m -> {}, Optional.empty(), Optional.empty()));
            ExecutionException ee = assertThrows(ExecutionException.class,
                    () -> ipc.publishToIoTCoreAsync(publish("denied/x", "no")).get(10, TimeUnit.SECONDS));
            assertInstanceOf(UnauthorizedError.class, ee.getCause());
        }
    }

    @Test
    void buildFailsWithIOExceptionOnBadToken() {
        IOException e = assertThrows(IOException.class, () -> client("bad-token"));
        assertInstanceOf(io.ggipc.eventstreamrpc.model.AccessDeniedException.class, e.getCause());
    }

    @Test
    void syncPublishInsideHandler() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = client(server.fullToken)) {
            BlockingQueue<IoTCoreMessage> replies = new LinkedBlockingQueue<>();
            ipc.subscribeToIoTCore(subscribe("v2/re/out"), replies::add, Optional.empty(), Optional.empty());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            ipc.subscribeToIoTCore(subscribe("v2/re/in"), m -> {
                try {
                    // Sync V2 call from the dispatcher thread.
                    ipc.publishToIoTCore(publish("v2/re/out", "echo " + text(m)));
                    // And a sync subscribe + close, also from the handler.
                    ipc.subscribeToIoTCore(subscribe("v2/re/tmp"), x -> {}, Optional.empty(), Optional.empty())
                            .getHandler().closeStream();
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, Optional.empty(), Optional.empty());
            for (int i = 0; i < 50; i++) {
                ipc.publishToIoTCore(publish("v2/re/in", "" + i));
            }
            for (int i = 0; i < 50; i++) {
                IoTCoreMessage m = replies.poll(10, TimeUnit.SECONDS);
                assertNotNull(m, "reply " + i);
                assertEquals("echo " + i, text(m));
            }
            assertEquals(null, failure.get());
        }
    }

    @Test
    void burstIsDeliveredInOrderAndExecutorIsUsedWhenChosen() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "user-executor");
            t.setDaemon(true);
            return t;
        });
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket)
                .withAuthToken(server.fullToken).withExecutor(pool).build()) {
            int n = 20000;
            CountDownLatch all = new CountDownLatch(n);
            AtomicLong expected = new AtomicLong();
            AtomicReference<String> problem = new AtomicReference<>();
            ipc.subscribeToIoTCore(subscribe("v2/burst"), m -> {
                long seq = ByteBuffer.wrap(m.getMessage().getPayload()).getLong();
                if (seq != expected.getAndIncrement()) {
                    problem.compareAndSet(null, "out of order: " + seq);
                }
                if (!Thread.currentThread().getName().equals("user-executor")) {
                    problem.compareAndSet(null, "ran on " + Thread.currentThread().getName());
                }
                if ((seq + 1) % 1000 == 0) {
                    // Flow control for the test server's burst (see ggipc-test-server).
                    ipc.publishToIoTCoreAsync(publish("ggipc/test/ack", Long.toString(seq + 1)));
                }
                all.countDown();
            }, Optional.empty(), Optional.empty());
            ipc.publishToIoTCore(publish("ggipc/test/burst", n + " 32 v2/burst 5000"));
            assertTrue(all.await(60, TimeUnit.SECONDS), "received " + (n - all.getCount()) + " of " + n);
            assertEquals(null, problem.get());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void closeWhileStreamingThenCallsFail() throws Exception {
        GreengrassCoreIPCClientV2 ipc = client(server.fullToken);
        CountDownLatch first = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        ipc.subscribeToIoTCore(subscribe("v2/closing"), m -> first.countDown(), Optional.empty(),
                Optional.of(closed::countDown));
        ipc.publishToIoTCore(publish("ggipc/test/burst", "100000 64 v2/closing"));
        assertTrue(first.await(10, TimeUnit.SECONDS));
        ipc.close();
        assertTrue(closed.await(10, TimeUnit.SECONDS));
        assertThrows(EventStreamClosedException.class, () -> ipc.publishToIoTCore(publish("v2/closing", "late")));
        ipc.close();
    }
}
