package io.ggipc.eventstreamrpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.TestServer;
import io.ggipc.greengrass.GreengrassCoreIPCClient;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Disconnects are never silent: the lifecycle handler, open streams and later calls all hear of them. */
class LifecycleTest {
    @Test
    void serverGoingAwayIsReportedEverywhere() throws Exception {
        TestServer server = TestServer.start();
        CountDownLatch connected = new CountDownLatch(1);
        BlockingQueue<Integer> disconnects = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> connectionErrors = new LinkedBlockingQueue<>();
        EventStreamRPCConnection c =
                new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket, server.fullToken));
        c.connect(new EventStreamRPCConnection.LifecycleHandler() {
            @Override
            public void onConnect() {
                connected.countDown();
            }

            @Override
            public void onDisconnect(int errorCode) {
                disconnects.add(errorCode);
            }

            @Override
            public boolean onError(Throwable t) {
                connectionErrors.add(t);
                return true;
            }
        }).get(10, TimeUnit.SECONDS);
        assertTrue(connected.await(0, TimeUnit.SECONDS), "onConnect before connect() completes");

        GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
        BlockingQueue<Throwable> streamErrors = new LinkedBlockingQueue<>();
        CountDownLatch streamClosed = new CountDownLatch(1);
        ipc.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("life/#").withQos(QOS.AT_MOST_ONCE),
                Optional.of(new StreamResponseHandler<IoTCoreMessage>() {
                    @Override
                    public void onStreamEvent(IoTCoreMessage e) {}

                    @Override
                    public boolean onStreamError(Throwable error) {
                        streamErrors.add(error);
                        return false;
                    }

                    @Override
                    public void onStreamClosed() {
                        streamClosed.countDown();
                    }
                })).getResponse().get(10, TimeUnit.SECONDS);

        server.close();

        Integer code = disconnects.poll(10, TimeUnit.SECONDS);
        assertNotEquals(null, code, "onDisconnect");
        assertEquals(ErrorCode.CONNECTION_CLOSED.code(), code);
        assertInstanceOf(EventStreamClosedException.class, connectionErrors.poll(1, TimeUnit.SECONDS));
        assertTrue(streamClosed.await(10, TimeUnit.SECONDS), "onStreamClosed");
        // The test server shuts down gracefully and terminates its streams first, so the stream may end
        // normally; if it reports an error, it is the connection's end.
        Throwable streamError = streamErrors.poll();
        if (streamError != null) {
            assertInstanceOf(EventStreamClosedException.class, streamError);
        }
        assertFalse(c.isConnected());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("life/x")
                        .withQos(QOS.AT_MOST_ONCE).withPayload(new byte[1]), Optional.empty()).getResponse()
                        .get(10, TimeUnit.SECONDS));
        assertInstanceOf(EventStreamClosedException.class, e.getCause());
        c.close();
    }

    @Test
    void localCloseIsCodeZeroWithoutError() throws Exception {
        try (TestServer server = TestServer.start()) {
            BlockingQueue<Integer> disconnects = new LinkedBlockingQueue<>();
            AtomicInteger errors = new AtomicInteger();
            EventStreamRPCConnection c =
                    new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket, server.fullToken));
            c.connect(new EventStreamRPCConnection.LifecycleHandler() {
                @Override
                public void onConnect() {}

                @Override
                public void onDisconnect(int errorCode) {
                    disconnects.add(errorCode);
                }

                @Override
                public boolean onError(Throwable t) {
                    errors.incrementAndGet();
                    return true;
                }
            }).get(10, TimeUnit.SECONDS);
            c.close();
            assertEquals(0, disconnects.poll(10, TimeUnit.SECONDS));
            assertEquals(0, errors.get());
        }
    }
}
