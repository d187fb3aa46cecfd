package io.ggipc.greengrass;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.eventstreamrpc.ConnectionFailedException;
import io.ggipc.eventstreamrpc.EventStreamClosedException;
import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.AccessDeniedException;
import io.ggipc.greengrass.model.InvalidArgumentsError;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.MQTTMessage;
import io.ggipc.greengrass.model.PayloadFormat;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToIoTCoreResponse;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.UnauthorizedError;
import io.ggipc.greengrass.model.UserProperty;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ClientV1Test extends SharedTestServer {
    static EventStreamRPCConnection connect(String token) throws Exception {
        EventStreamRPCConnection c = new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket, token));
        c.connect(null).get(10, TimeUnit.SECONDS);
        return c;
    }

    static PublishToIoTCoreRequest publish(String topic, String payload) {
        PublishToIoTCoreRequest r = new PublishToIoTCoreRequest();
        r.setTopicName(topic);
        r.setPayload(payload.getBytes(StandardCharsets.UTF_8));
        r.setQos(QOS.AT_LEAST_ONCE);
        return r;
    }

    static SubscribeToIoTCoreRequest subscribe(String filter) {
        SubscribeToIoTCoreRequest r = new SubscribeToIoTCoreRequest();
        r.setTopicName(filter);
        r.setQos(QOS.AT_MOST_ONCE);
        return r;
    }

    /** Collects events; counts closes. */
    static final class Collector implements StreamResponseHandler<IoTCoreMessage> {
        final BlockingQueue<IoTCoreMessage> events = new LinkedBlockingQueue<>();
        final BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        final CountDownLatch closed = new CountDownLatch(1);
        final AtomicInteger closedCount = new AtomicInteger();
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void onStreamEvent(IoTCoreMessage e) {
            threads.add(Thread.currentThread().getName() + "/" + Thread.currentThread().isDaemon());
            events.add(e);
        }

        @Override
        public boolean onStreamError(Throwable error) {
            errors.add(error);
            return false;
        }

        @Override
        public void onStreamClosed() {
            closedCount.incrementAndGet();
            closed.countDown();
        }

        IoTCoreMessage next() throws InterruptedException {
            IoTCoreMessage m = events.poll(10, TimeUnit.SECONDS);
            if (m == null) {
                throw new AssertionError("no event within 10 s");
            }
            return m;
        }
    }

    @Test
    void publishCompletesWithResponse() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            PublishToIoTCoreResponseHandler h = ipc.publishToIoTCore(publish("v1/pub", "hello"), Optional.empty());
            assertInstanceOf(PublishToIoTCoreResponse.class, h.getResponse().get(10, TimeUnit.SECONDS));
            assertTrue(h.isClosed());
        }
    }

    @Test
    void subscribeReceivesMessagesInOrderOnDaemonDispatcher() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            Collector col = new Collector();
            SubscribeToIoTCoreResponseHandler sh = ipc.subscribeToIoTCore(subscribe("v1/order/#"), Optional.of(col));
            sh.getResponse().get(10, TimeUnit.SECONDS);
            List<CompletableFuture<PublishToIoTCoreResponse>> fs = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                fs.add(ipc.publishToIoTCore(publish("v1/order/x", "m" + i), Optional.empty()).getResponse());
            }
            CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 500; i++) {
                IoTCoreMessage m = col.next();
                assertEquals("v1/order/x", m.getMessage().getTopicName());
                assertEquals("m" + i, new String(m.getMessage().getPayload(), StandardCharsets.UTF_8));
            }
            String caller = Thread.currentThread().getName();
            for (String t : col.threads) {
                assertTrue(t.endsWith("/true"), "handler thread must be a daemon: " + t);
                assertNotEquals(caller + "/false", t);
            }
            sh.closeStream().get(10, TimeUnit.SECONDS);
            assertTrue(col.closed.await(10, TimeUnit.SECONDS), "onStreamClosed after closeStream");
            assertTrue(sh.isClosed());
        }
    }

    @Test
    void mqtt5FieldsRoundTrip() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            Collector col = new Collector();
            ipc.subscribeToIoTCore(subscribe("v1/mqtt5"), Optional.of(col)).getResponse().get(10, TimeUnit.SECONDS);
            PublishToIoTCoreRequest r = publish("v1/mqtt5", "{\"a\":1}");
            r.setUserProperties(List.of(new UserProperty().withKey("k").withValue("v"),
                    new UserProperty().withKey("k2").withValue("")));
            r.setMessageExpiryIntervalSeconds(42L);
            r.setCorrelationData(new byte[] {1, 2, 3});
            r.setResponseTopic("v1/reply");
            r.setPayloadFormat(PayloadFormat.UTF8);
            r.setContentType("application/json");
            ipc.publishToIoTCore(r, Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
            MQTTMessage m = col.next().getMessage();
            assertEquals("v1/mqtt5", m.getTopicName());
            assertEquals("{\"a\":1}", new String(m.getPayload(), StandardCharsets.UTF_8));
            assertEquals(r.getUserProperties(), m.getUserProperties());
            assertEquals(42L, m.getMessageExpiryIntervalSeconds());
            assertArrayEquals(new byte[] {1, 2, 3}, m.getCorrelationData());
            assertEquals("v1/reply", m.getResponseTopic());
            assertEquals(PayloadFormat.UTF8, m.getPayloadFormat());
            assertEquals("application/json", m.getContentType());
        }
    }

    @Test
    void unauthorizedIsCauseOfExecutionException() throws Exception {
        try (EventStreamRPCConnection c = connect(server.limitedToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> ipc.publishToIoTCore(publish("denied/x", "no"), Optional.empty()).getResponse()
                            .get(10, TimeUnit.SECONDS));
            UnauthorizedError u = assertInstanceOf(UnauthorizedError.class, e.getCause());
            assertEquals("Not Authorized", u.getMessage());
            assertEquals("UnauthorizedError", u.getErrorCode());
            assertTrue(u.isClientError());

            ExecutionException s = assertThrows(ExecutionException.class,
                    () -> ipc.subscribeToIoTCore(subscribe("denied/#"), Optional.of(new Collector())).getResponse()
                            .get(10, TimeUnit.SECONDS));
            assertInstanceOf(UnauthorizedError.class, s.getCause());

            // Allowed topics still work on the same connection.
            ipc.publishToIoTCore(publish("allowed/x", "yes"), Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void missingPayloadIsInvalidArguments() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            PublishToIoTCoreRequest r = new PublishToIoTCoreRequest().withTopicName("v1/x").withQos(QOS.AT_MOST_ONCE);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> ipc.publishToIoTCore(r, Optional.empty()).getResponse().get(10, TimeUnit.SECONDS));
            InvalidArgumentsError ia = assertInstanceOf(InvalidArgumentsError.class, e.getCause());
            assertEquals("Payload is required", ia.getMessage());
        }
    }

    @Test
    void badTokenIsAccessDenied() {
        EventStreamRPCConnection c =
                new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket, "not-a-token"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> c.connect(null).get(10, TimeUnit.SECONDS));
        assertInstanceOf(AccessDeniedException.class, e.getCause());
        c.close();
    }

    @Test
    void missingSocketIsConnectFailed() {
        EventStreamRPCConnection c = new EventStreamRPCConnection(
                new EventStreamRPCConnectionConfig(server.dir.resolve("nope.socket").toString(), "x"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> c.connect(null).get(10, TimeUnit.SECONDS));
        assertInstanceOf(ConnectionFailedException.class, e.getCause());
    }

    @Test
    void handlerMayCallClientAndWait() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            Collector replies = new Collector();
            ipc.subscribeToIoTCore(subscribe("v1/reentrant/reply"), Optional.of(replies)).getResponse()
                    .get(10, TimeUnit.SECONDS);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            StreamResponseHandler<IoTCoreMessage> echo = new StreamResponseHandler<IoTCoreMessage>() {
                @Override
                public void onStreamEvent(IoTCoreMessage e) {
                    try {
                        // Blocks this dispatcher thread until the nucleus answers: must not deadlock.
                        ipc.publishToIoTCore(publish("v1/reentrant/reply",
                                "re:" + new String(e.getMessage().getPayload(), StandardCharsets.UTF_8)),
                                Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
                    } catch (Exception ex) {
                        failure.set(ex);
                    }
                }

                @Override
                public boolean onStreamError(Throwable error) {
                    return false;
                }

                @Override
                public void onStreamClosed() {}
            };
            ipc.subscribeToIoTCore(subscribe("v1/reentrant/in"), Optional.of(echo)).getResponse()
                    .get(10, TimeUnit.SECONDS);
            for (int i = 0; i < 20; i++) {
                ipc.publishToIoTCore(publish("v1/reentrant/in", "n" + i), Optional.empty()).getResponse()
                        .get(10, TimeUnit.SECONDS);
            }
            for (int i = 0; i < 20; i++) {
                assertEquals("re:n" + i, new String(replies.next().getMessage().getPayload(), StandardCharsets.UTF_8));
            }
            assertEquals(null, failure.get());
        }
    }

    @Test
    void closingConnectionWhileStreamingEndsStreamsAndFailsCalls() throws Exception {
        EventStreamRPCConnection c = connect(server.fullToken);
        GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
        Collector col = new Collector();
        ipc.subscribeToIoTCore(subscribe("v1/closing"), Optional.of(col)).getResponse().get(10, TimeUnit.SECONDS);
        ipc.publishToIoTCore(publish("ggipc/test/burst", "100000 64 v1/closing"), Optional.empty()).getResponse()
                .get(10, TimeUnit.SECONDS);
        col.next();
        c.close();
        assertTrue(col.closed.await(10, TimeUnit.SECONDS), "stream closed after the connection closed");
        int seen = col.events.size();
        Thread.sleep(200);
        assertEquals(seen, col.events.size(), "no events after onStreamClosed");
        assertEquals(1, col.closedCount.get());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> ipc.publishToIoTCore(publish("v1/closing", "late"), Optional.empty()).getResponse()
                        .get(10, TimeUnit.SECONDS));
        assertInstanceOf(EventStreamClosedException.class, e.getCause());
        assertFalse(c.isConnected());
        assertTrue(server.isAlive());
    }

    @Test
    void closeStreamBeforeAcceptedStillCloses() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            Collector col = new Collector();
            SubscribeToIoTCoreResponseHandler sh = ipc.subscribeToIoTCore(subscribe("v1/early"), Optional.of(col));
            sh.closeStream();
            sh.getResponse().get(10, TimeUnit.SECONDS);
            assertTrue(col.closed.await(10, TimeUnit.SECONDS));
            ipc.publishToIoTCore(publish("v1/early", "x"), Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
            assertEquals(null, col.events.poll(300, TimeUnit.MILLISECONDS));
        }
    }

    @Test
    void waitingOnTheCompleterThreadFailsInsteadOfHanging() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            // A callback chained on a ggipc future runs on the completer thread unless the future was already
            // done when it was chained (then it runs right here): try until it ran on the completer.
            Thread test = Thread.currentThread();
            int onCompleter = 0;
            for (int attempt = 0; attempt < 200 && onCompleter < 3; attempt++) {
                CompletableFuture<Throwable> inner = new CompletableFuture<>();
                ipc.publishToIoTCore(publish("v1/chain", "a"), Optional.empty()).getResponse().thenAccept(r -> {
                    if (Thread.currentThread() == test) {
                        inner.complete(new AssertionError("ran on the test thread"));
                        return;
                    }
                    try {
                        ipc.publishToIoTCore(publish("v1/chain", "b"), Optional.empty()).getResponse()
                                .get(5, TimeUnit.SECONDS);
                        inner.complete(null);
                    } catch (Throwable t) {
                        inner.complete(t);
                    }
                });
                Throwable t = inner.get(10, TimeUnit.SECONDS);
                if (t instanceof AssertionError) {
                    continue;
                }
                onCompleter++;
                assertInstanceOf(IllegalStateException.class, t);
            }
            assertTrue(onCompleter > 0, "no callback ran on the completer thread");
            // Chaining (instead of waiting) works from the same place.
            CompletableFuture<PublishToIoTCoreResponse> chained = ipc.publishToIoTCore(publish("v1/chain", "c"),
                    Optional.empty()).getResponse().thenCompose(r -> ipc.publishToIoTCore(publish("v1/chain", "d"),
                            Optional.empty()).getResponse());
            assertInstanceOf(PublishToIoTCoreResponse.class, chained.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void slowHandlerSeesDropsReportedAndStreamStaysOpen() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            int n = 30000;
            AtomicInteger received = new AtomicInteger();
            java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();
            BlockingQueue<String> after = new LinkedBlockingQueue<>();
            CountDownLatch first = new CountDownLatch(1);
            StreamResponseHandler<IoTCoreMessage> slow = new StreamResponseHandler<IoTCoreMessage>() {
                @Override
                public void onStreamEvent(IoTCoreMessage e) {
                    if (e.getMessage().getPayload().length == 1) {
                        after.add("after");
                        return;
                    }
                    if (received.getAndIncrement() == 0) {
                        first.countDown();
                        try {
                            // Stall the dispatcher while the burst arrives: the bounded queue overflows.
                            Thread.sleep(2000);
                        } catch (InterruptedException ex) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }

                @Override
                public boolean onStreamError(Throwable error) {
                    if (error instanceof io.ggipc.eventstreamrpc.MessagesDroppedException) {
                        dropped.addAndGet(((io.ggipc.eventstreamrpc.MessagesDroppedException) error).getDropped());
                    }
                    return false;
                }

                @Override
                public void onStreamClosed() {}
            };
            ipc.subscribeToIoTCore(subscribe("v1/slow"), Optional.of(slow)).getResponse().get(10, TimeUnit.SECONDS);
            ipc.publishToIoTCore(publish("ggipc/test/burst", n + " 16 v1/slow"), Optional.empty()).getResponse()
                    .get(10, TimeUnit.SECONDS);
            assertTrue(first.await(10, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (received.get() + dropped.get() < n && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(dropped.get() > 0, "drops were reported");
            assertEquals(n, received.get() + dropped.get(), "every message was either delivered or reported");
            // Still open: a later message arrives.
            PublishToIoTCoreRequest one = publish("v1/slow", "x");
            one.setPayload(new byte[] {1});
            ipc.publishToIoTCore(one, Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
            assertEquals("after", after.poll(10, TimeUnit.SECONDS));
        }
    }
}
