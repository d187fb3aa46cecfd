package io.ggipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.greengrass.GreengrassCoreIPCClient;
import io.ggipc.greengrass.SubscribeToIoTCoreResponseHandler;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Native handles are released by the Cleaner once unreachable: a forgotten connection is closed, unless a
 * stream on it is still open (an open subscription keeps its connection alive, as with the AWS SDK, so that a
 * subscription is never lost to garbage collection).
 */
class CleanerTest extends SharedTestServer {
    /** Runs GC until the live handle counts are back to at most {@code clients}/{@code subs}, 20 s at most. */
    static boolean settlesTo(long clients, long subs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            long[] live = Native.liveHandles();
            if (live[0] <= clients && live[1] <= subs) {
                return true;
            }
            System.gc();
            Thread.sleep(50);
        }
        return false;
    }

    @Test
    void forgottenConnectionsAreReleasedUnlessAStreamIsOpen() throws Exception {
        Native.init();
        System.gc();
        assertTrue(settlesTo(Long.MAX_VALUE, Long.MAX_VALUE));
        long[] before = Native.liveHandles();
        List<SubscribeToIoTCoreResponseHandler> open = new ArrayList<>();
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        for (int i = 0; i < 30; i++) {
            EventStreamRPCConnection c =
                    new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket, server.fullToken));
            c.connect(null).get(10, TimeUnit.SECONDS);
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            SubscribeToIoTCoreRequest r = new SubscribeToIoTCoreRequest().withTopicName("leak/" + i)
                    .withQos(QOS.AT_MOST_ONCE);
            SubscribeToIoTCoreResponseHandler h = ipc.subscribeToIoTCore(r, Optional.of(
                    new StreamResponseHandler<IoTCoreMessage>() {
                        @Override
                        public void onStreamEvent(IoTCoreMessage e) {
                            received.add(e.getMessage().getTopicName());
                        }

                        @Override
                        public boolean onStreamError(Throwable error) {
                            return false;
                        }

                        @Override
                        public void onStreamClosed() {}
                    }));
            h.getResponse().get(10, TimeUnit.SECONDS);
            if (i % 2 == 0) {
                h.closeStream();
            } else {
                open.add(h);
            }
            // The connection object is dropped here without close().
        }
        // Connections whose only stream is closed are released by the Cleaner ...
        assertTrue(settlesTo(before[0] + 15, before[1] + 15), "even connections not released: "
                + Native.liveHandles()[0] + "/" + Native.liveHandles()[1]);
        // ... while an open stream keeps its connection alive and delivering.
        try (EventStreamRPCConnection c = new EventStreamRPCConnection(
                new EventStreamRPCConnectionConfig(server.socket, server.fullToken))) {
            c.connect(null).get(10, TimeUnit.SECONDS);
            new GreengrassCoreIPCClient(c).publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("leak/7")
                    .withQos(QOS.AT_MOST_ONCE).withPayload(new byte[] {1}), Optional.empty()).getResponse()
                    .get(10, TimeUnit.SECONDS);
        }
        assertEquals("leak/7", received.poll(10, TimeUnit.SECONDS));
        // Closing the streams lets the rest go.
        for (SubscribeToIoTCoreResponseHandler h : open) {
            h.closeStream();
        }
        open.clear();
        assertTrue(settlesTo(before[0], before[1]), "live handles did not return to " + before[0] + "/"
                + before[1] + ": " + Native.liveHandles()[0] + "/" + Native.liveHandles()[1]);
    }
}
