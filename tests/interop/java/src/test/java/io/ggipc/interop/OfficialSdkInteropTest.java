package io.ggipc.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClient;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClientV2;
import software.amazon.awssdk.aws.greengrass.SubscribeToIoTCoreResponseHandler;
import software.amazon.awssdk.aws.greengrass.model.InvalidArgumentsError;
import software.amazon.awssdk.aws.greengrass.model.IoTCoreMessage;
import software.amazon.awssdk.aws.greengrass.model.MQTTMessage;
import software.amazon.awssdk.aws.greengrass.model.PayloadFormat;
import software.amazon.awssdk.aws.greengrass.model.PublishToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.QOS;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.UnauthorizedError;
import software.amazon.awssdk.aws.greengrass.model.UserProperty;
import software.amazon.awssdk.crt.io.ClientBootstrap;
import software.amazon.awssdk.crt.io.EventLoopGroup;
import software.amazon.awssdk.crt.io.SocketOptions;
import software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnection;
import software.amazon.awssdk.eventstreamrpc.EventStreamRPCConnectionConfig;
import software.amazon.awssdk.eventstreamrpc.GreengrassConnectMessageSupplier;
import software.amazon.awssdk.eventstreamrpc.StreamResponseHandler;

/** The official AWS IoT Device SDK for Java v2 (V1 and V2 Greengrass IPC clients) against ggipc's server. */
class OfficialSdkInteropTest {
    static TestServer server;
    static EventLoopGroup elg;
    static ClientBootstrap bootstrap;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start();
        elg = new EventLoopGroup(1);
        bootstrap = new ClientBootstrap(elg, null);
    }

    @AfterAll
    static void stop() throws Exception {
        bootstrap.close();
        elg.close();
        server.close();
    }

    /** Connects as the Greengrass docs' IPCUtils does. */
    static EventStreamRPCConnection connect(String token) throws Exception {
        SocketOptions so = new SocketOptions();
        so.connectTimeoutMs = 3000;
        so.domain = SocketOptions.SocketDomain.LOCAL;
        so.type = SocketOptions.SocketType.STREAM;
        EventStreamRPCConnectionConfig config = new EventStreamRPCConnectionConfig(bootstrap, elg, so, null,
                server.socket, 8033, GreengrassConnectMessageSupplier.connectMessageSupplier(token));
        EventStreamRPCConnection c = new EventStreamRPCConnection(config);
        CompletableFuture<Void> connected = new CompletableFuture<>();
        c.connect(new EventStreamRPCConnection.LifecycleHandler() {
            @Override
            public void onConnect() {
                connected.complete(null);
            }

            @Override
            public void onDisconnect(int errorCode) {
                connected.completeExceptionally(new RuntimeException("disconnected: " + errorCode));
            }

            @Override
            public boolean onError(Throwable t) {
                connected.completeExceptionally(t);
                return true;
            }
        });
        connected.get(10, TimeUnit.SECONDS);
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

    static final class Collector implements StreamResponseHandler<IoTCoreMessage> {
        final BlockingQueue<IoTCoreMessage> events = new LinkedBlockingQueue<>();
        final CountDownLatch closed = new CountDownLatch(1);

        @Override
        public void onStreamEvent(IoTCoreMessage e) {
            events.add(e);
        }

        @Override
        public boolean onStreamError(Throwable error) {
            return false;
        }

        @Override
        public void onStreamClosed() {
            closed.countDown();
        }

        IoTCoreMessage next() throws InterruptedException {
            IoTCoreMessage m = events.poll(10, TimeUnit.SECONDS);
            assertNotNull(m, "no event within 10 s");
            return m;
        }
    }

    @Test
    void v1PublishSubscribeAndMqtt5Fields() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            Collector col = new Collector();
            SubscribeToIoTCoreResponseHandler sh = ipc.subscribeToIoTCore(subscribe("interop/v1/#"), Optional.of(col));
            sh.getResponse().get(10, TimeUnit.SECONDS);
            PublishToIoTCoreRequest r = publish("interop/v1/a", "hello");
            r.setUserProperties(List.of(new UserProperty().withKey("k").withValue("v")));
            r.setCorrelationData(new byte[] {7});
            r.setResponseTopic("interop/reply");
            r.setPayloadFormat(PayloadFormat.UTF8);
            r.setMessageExpiryIntervalSeconds(30L);
            ipc.publishToIoTCore(r, Optional.empty()).getResponse().get(10, TimeUnit.SECONDS);
            MQTTMessage m = col.next().getMessage();
            assertEquals("interop/v1/a", m.getTopicName());
            assertEquals("hello", new String(m.getPayload(), StandardCharsets.UTF_8));
            assertEquals("k", m.getUserProperties().get(0).getKey());
            assertEquals("interop/reply", m.getResponseTopic());
            assertEquals(PayloadFormat.UTF8, m.getPayloadFormat());
            assertEquals(30L, m.getMessageExpiryIntervalSeconds());
            sh.closeStream().get(10, TimeUnit.SECONDS);
            assertTrue(col.closed.await(10, TimeUnit.SECONDS), "onStreamClosed after closeStream");
        }
    }

    @Test
    void v1ErrorsMapToModeledClasses() throws Exception {
        try (EventStreamRPCConnection c = connect(server.limitedToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> ipc.publishToIoTCore(publish("denied/x", "no"), Optional.empty()).getResponse()
                            .get(10, TimeUnit.SECONDS));
            UnauthorizedError u = assertInstanceOf(UnauthorizedError.class, e.getCause());
            assertEquals("Not Authorized", u.getMessage());
            ExecutionException s = assertThrows(ExecutionException.class,
                    () -> ipc.subscribeToIoTCore(subscribe("denied/#"), Optional.of(new Collector())).getResponse()
                            .get(10, TimeUnit.SECONDS));
            assertInstanceOf(UnauthorizedError.class, s.getCause());
            PublishToIoTCoreRequest noPayload = new PublishToIoTCoreRequest();
            noPayload.setTopicName("allowed/x");
            noPayload.setQos(QOS.AT_MOST_ONCE);
            ExecutionException ia = assertThrows(ExecutionException.class,
                    () -> ipc.publishToIoTCore(noPayload, Optional.empty()).getResponse().get(10, TimeUnit.SECONDS));
            assertEquals("Payload is required", assertInstanceOf(InvalidArgumentsError.class, ia.getCause()).getMessage());
        }
    }

    @Test
    void badTokenIsRefused() {
        assertThrows(Exception.class, () -> connect("not-a-token").close());
    }

    @Test
    void v2SyncPublishInsideHandlerAndBurst() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket)
                .withAuthToken(server.fullToken).build()) {
            BlockingQueue<IoTCoreMessage> replies = new LinkedBlockingQueue<>();
            ipc.subscribeToIoTCore(subscribe("interop/v2/out"), replies::add, Optional.empty(), Optional.empty());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            ipc.subscribeToIoTCore(subscribe("interop/v2/in"), m -> {
                try {
                    ipc.publishToIoTCore(publish("interop/v2/out",
                            "echo " + new String(m.getMessage().getPayload(), StandardCharsets.UTF_8)));
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, Optional.empty(), Optional.empty());
            ipc.publishToIoTCore(publish("interop/v2/in", "x"));
            IoTCoreMessage reply = replies.poll(10, TimeUnit.SECONDS);
            assertNotNull(reply);
            assertEquals("echo x", new String(reply.getMessage().getPayload(), StandardCharsets.UTF_8));
            assertEquals(null, failure.get());

            int n = 2000;
            CountDownLatch all = new CountDownLatch(n);
            boolean[] seen = new boolean[n];
            ipc.subscribeToIoTCore(subscribe("interop/v2/burst"), m -> {
                int seq = (int) ByteBuffer.wrap(m.getMessage().getPayload()).getLong();
                synchronized (seen) {
                    if (!seen[seq]) {
                        seen[seq] = true;
                        all.countDown();
                    }
                }
            }, Optional.empty(), Optional.empty());
            ipc.publishToIoTCore(publish("ggipc/test/burst", n + " 32 interop/v2/burst"));
            assertTrue(all.await(60, TimeUnit.SECONDS), "received " + (n - all.getCount()) + " of " + n);

            UnauthorizedError u;
            try (GreengrassCoreIPCClientV2 limited = GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket)
                    .withAuthToken(server.limitedToken).build()) {
                u = assertThrows(UnauthorizedError.class, () -> limited.publishToIoTCore(publish("denied/y", "no")));
            }
            assertEquals("Not Authorized", u.getMessage());
        }
    }

    @Test
    void v1CloseWhileStreaming() throws Exception {
        EventStreamRPCConnection c = connect(server.fullToken);
        GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
        Collector col = new Collector();
        ipc.subscribeToIoTCore(subscribe("interop/closing"), Optional.of(col)).getResponse().get(10, TimeUnit.SECONDS);
        ipc.publishToIoTCore(publish("ggipc/test/burst", "100000 64 interop/closing"), Optional.empty()).getResponse()
                .get(10, TimeUnit.SECONDS);
        col.next();
        c.close();
        assertTrue(col.closed.await(10, TimeUnit.SECONDS), "onStreamClosed after the connection closed");
        assertTrue(server.isAlive());
        // The server still serves new connections.
        try (EventStreamRPCConnection again = connect(server.fullToken)) {
            new GreengrassCoreIPCClient(again).publishToIoTCore(publish("interop/after", "x"), Optional.empty())
                    .getResponse().get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * The official V1 client runs stream handlers on its event-loop thread, so waiting for an IPC answer inside a
     * handler blocks the very thread that would read it: the wait can only time out. (ggipc's
     * ClientV1Test.handlerMayCallClientAndWait does the same and succeeds.) Recorded here so that a change in the
     * official client's behaviour shows up.
     */
    @Test
    void v1WaitingInsideHandlerDeadlocksInTheOfficialClient() throws Exception {
        try (EventStreamRPCConnection c = connect(server.fullToken)) {
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            BlockingQueue<Throwable> outcome = new LinkedBlockingQueue<>();
            StreamResponseHandler<IoTCoreMessage> h = new StreamResponseHandler<IoTCoreMessage>() {
                @Override
                public void onStreamEvent(IoTCoreMessage e) {
                    try {
                        ipc.publishToIoTCore(publish("interop/dl/out", "x"), Optional.empty()).getResponse()
                                .get(2, TimeUnit.SECONDS);
                        outcome.add(new AssertionError("no deadlock"));
                    } catch (Exception ex) {
                        outcome.add(ex);
                    }
                }

                @Override
                public boolean onStreamError(Throwable error) {
                    return false;
                }

                @Override
                public void onStreamClosed() {}
            };
            ipc.subscribeToIoTCore(subscribe("interop/dl/in"), Optional.of(h)).getResponse().get(10, TimeUnit.SECONDS);
            ipc.publishToIoTCore(publish("interop/dl/in", "go"), Optional.empty()).getResponse()
                    .get(10, TimeUnit.SECONDS);
            Throwable t = outcome.poll(20, TimeUnit.SECONDS);
            assertInstanceOf(java.util.concurrent.TimeoutException.class, t);
        }
    }
}
