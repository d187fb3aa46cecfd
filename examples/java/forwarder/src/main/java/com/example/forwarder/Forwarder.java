// SPDX-License-Identifier: Apache-2.0
package com.example.forwarder;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.SubscribeToTopicResponseHandler;
import io.ggipc.greengrass.model.BinaryMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToTopicRequest;
import io.ggipc.greengrass.model.SubscriptionResponseMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A component that forwards commands to telemetry: every local message on {@code commands/<name>} (PublishToTopic
 * from another component) is published to AWS IoT Core on {@code telemetry/<name>} with QoS 1 and the same
 * payload. A forward that fails (a topic its policy does not allow, the broker refusing it) is counted and
 * logged; the component keeps forwarding.
 */
public final class Forwarder implements AutoCloseable {
    private final GreengrassCoreIPCClientV2 ipc;
    private final SubscribeToTopicResponseHandler subscription;
    private final List<String> errors = new ArrayList<>();
    private int forwarded;

    /** Subscribes to commands with {@code ipc} (reconnecting clients survive a nucleus restart). */
    public Forwarder(GreengrassCoreIPCClientV2 ipc) throws InterruptedException {
        this.ipc = ipc;
        // Keep the stream on errors: a nucleus restart is reported as one, then the subscription is resumed.
        this.subscription = ipc.subscribeToTopic(new SubscribeToTopicRequest().withTopic("commands/#"), this::onCommand,
                Optional.of(e -> {
                    System.err.println("commands stream: " + e.getMessage());
                    return false;
                }), Optional.empty()).getHandler();
    }

    private void onCommand(SubscriptionResponseMessage event) {
        BinaryMessage m = event.getBinaryMessage();
        if (m == null || m.getContext() == null) {
            return;
        }
        String topic = m.getContext().getTopic();
        String name = topic.substring("commands/".length());
        try {
            ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("telemetry/" + name)
                    .withQos(QOS.AT_LEAST_ONCE).withPayload(m.getMessage()));
            synchronized (this) {
                forwarded++;
                notifyAll();
            }
        } catch (Exception e) {
            System.err.println("forward of " + topic + " failed: " + e.getMessage());
            synchronized (this) {
                errors.add(e.getClass().getSimpleName() + ": " + e.getMessage());
                notifyAll();
            }
        }
    }

    /** Waits until {@code count} commands were handled (forwarded or failed). */
    public synchronized boolean waitHandled(int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (forwarded + errors.size() < count) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    public synchronized int forwarded() {
        return forwarded;
    }

    public synchronized List<String> errors() {
        return new ArrayList<>(errors);
    }

    @Override
    public void close() {
        subscription.closeStream();
        ipc.close();
    }

    /** As a component: connects from the environment the nucleus gives it and forwards until stopped. */
    public static void main(String[] args) throws Exception {
        try (Forwarder f = new Forwarder(GreengrassCoreIPCClientV2.builder().withReconnect(true).build())) {
            Thread.currentThread().join();
        }
    }
}
