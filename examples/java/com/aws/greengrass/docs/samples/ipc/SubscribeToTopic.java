package com.aws.greengrass.docs.samples.ipc;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.SubscribeToTopicResponseHandler;
import io.ggipc.greengrass.model.SubscribeToTopicRequest;
import io.ggipc.greengrass.model.SubscriptionResponseMessage;
import io.ggipc.greengrass.model.UnauthorizedError;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Subscribes to local messages from other components (SubscribeToTopic) and prints each one until stopped.
 * Argument: [topic], default test/topic.
 */
public class SubscribeToTopic {

    public static void main(String[] args) {
        String topic = args.length > 0 ? args[0] : "test/topic";
        try (GreengrassCoreIPCClientV2 ipcClient = GreengrassCoreIPCClientV2.builder().build()) {
            SubscribeToTopicRequest request = new SubscribeToTopicRequest().withTopic(topic);
            GreengrassCoreIPCClientV2.StreamingResponse<?, SubscribeToTopicResponseHandler> response =
                    ipcClient.subscribeToTopic(request, SubscribeToTopic::onStreamEvent,
                            Optional.of(SubscribeToTopic::onStreamError),
                            Optional.of(SubscribeToTopic::onStreamClosed));
            System.out.println("Successfully subscribed to topic: " + topic);

            // Keep the main thread alive, or the process will exit.
            try {
                while (true) {
                    Thread.sleep(10000);
                }
            } catch (InterruptedException e) {
                System.out.println("Subscribe interrupted.");
            }

            // To stop subscribing, close the stream.
            response.getHandler().closeStream();
        } catch (UnauthorizedError e) {
            System.err.println("Unauthorized error while subscribing to topic: " + topic);
            System.exit(1);
        } catch (Exception e) {
            System.err.println("Exception occurred when using IPC.");
            e.printStackTrace();
            System.exit(1);
        }
    }

    public static void onStreamEvent(SubscriptionResponseMessage event) {
        try {
            if (event.getBinaryMessage() != null) {
                String topic = event.getBinaryMessage().getContext().getTopic();
                String message = new String(event.getBinaryMessage().getMessage(), StandardCharsets.UTF_8);
                System.out.printf("Received new message on topic %s: %s%n", topic, message);
            } else if (event.getJsonMessage() != null) {
                String topic = event.getJsonMessage().getContext().getTopic();
                Object message = event.getJsonMessage().getMessage().get("message");
                System.out.printf("Received new JSON message on topic %s: message=%s%n", topic, message);
            }
        } catch (Exception e) {
            System.err.println("Exception occurred while processing subscription response message.");
            e.printStackTrace();
        }
    }

    public static boolean onStreamError(Throwable error) {
        System.err.println("Received a stream error.");
        error.printStackTrace();
        return false; // Return true to close the stream, false to keep it open.
    }

    public static void onStreamClosed() {
        System.out.println("Subscribe to topic stream closed.");
    }
}
