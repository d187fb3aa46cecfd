package com.aws.greengrass.docs.samples.ipc;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.BinaryMessage;
import io.ggipc.greengrass.model.JsonMessage;
import io.ggipc.greengrass.model.PublishMessage;
import io.ggipc.greengrass.model.PublishToTopicRequest;
import io.ggipc.greengrass.model.UnauthorizedError;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;

/**
 * Publishes a local message to other components (PublishToTopic), as bytes and as JSON.
 * Arguments: [topic] [message], default test/topic "Hello, World!".
 */
public class PublishToTopic {

    public static void main(String[] args) {
        String topic = args.length > 0 ? args[0] : "test/topic";
        String message = args.length > 1 ? args[1] : "Hello, World!";
        try (GreengrassCoreIPCClientV2 ipcClient = GreengrassCoreIPCClientV2.builder().build()) {
            publishBinaryMessageToTopic(ipcClient, topic, message);
            System.out.println("Published binary message to topic " + topic + ": " + message);
            publishJsonMessageToTopic(ipcClient, topic, Collections.singletonMap("message", message));
            System.out.println("Published JSON message to topic " + topic + ": " + message);
        } catch (UnauthorizedError e) {
            System.err.println("Unauthorized error while publishing to topic: " + topic);
            System.exit(1);
        } catch (Exception e) {
            System.err.println("Exception occurred when using IPC.");
            e.printStackTrace();
            System.exit(1);
        }
    }

    public static void publishBinaryMessageToTopic(GreengrassCoreIPCClientV2 ipcClient, String topic,
            String message) throws InterruptedException {
        BinaryMessage binaryMessage =
                new BinaryMessage().withMessage(message.getBytes(StandardCharsets.UTF_8));
        PublishMessage publishMessage = new PublishMessage().withBinaryMessage(binaryMessage);
        ipcClient.publishToTopic(new PublishToTopicRequest().withTopic(topic).withPublishMessage(publishMessage));
    }

    public static void publishJsonMessageToTopic(GreengrassCoreIPCClientV2 ipcClient, String topic,
            Map<String, Object> value) throws InterruptedException {
        JsonMessage jsonMessage = new JsonMessage().withMessage(value);
        PublishMessage publishMessage = new PublishMessage().withJsonMessage(jsonMessage);
        ipcClient.publishToTopic(new PublishToTopicRequest().withTopic(topic).withPublishMessage(publishMessage));
    }
}
