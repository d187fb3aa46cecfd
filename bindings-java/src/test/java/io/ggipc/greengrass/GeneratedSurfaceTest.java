package io.ggipc.greengrass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.SharedTestServer;
import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.greengrass.model.GetConfigurationRequest;
import io.ggipc.greengrass.model.GetConfigurationResponse;
import io.ggipc.greengrass.model.InvalidArgumentsError;
import io.ggipc.greengrass.model.JsonMessage;
import io.ggipc.greengrass.model.PublishMessage;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.PublishToTopicRequest;
import io.ggipc.greengrass.model.ReceiveMode;
import io.ggipc.greengrass.model.ResourceNotFoundError;
import io.ggipc.greengrass.model.UnauthorizedError;
import io.ggipc.greengrass.model.ServiceError;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import io.ggipc.greengrass.model.SubscribeToTopicRequest;
import io.ggipc.greengrass.model.UpdateStateRequest;
import io.ggipc.greengrass.model.ReportedLifecycleState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The generated operations reach the server through the generic JSON path, and every binding-side error is the
 * server's (or the library's) own.
 */
class GeneratedSurfaceTest extends SharedTestServer {
    static String denied(String op, String topic) {
        return "Principal test.full is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#" + op
                + " on resource " + topic;
    }

    static <T> Throwable cause(CompletableFuture<T> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void newOperationsReachTheServerAndComeBackTypedV2() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = v2()) {
            // The test component has no configuration: the nucleus' "Key not found".
            GetConfigurationRequest req = new GetConfigurationRequest().withKeyPath(List.of("a", "b"));
            ResourceNotFoundError e = assertThrows(ResourceNotFoundError.class, () -> ipc.getConfiguration(req));
            assertEquals("Key not found", e.getMessage());
            assertEquals("client", e.getErrorTypeString());
            ResourceNotFoundError a = assertInstanceOf(ResourceNotFoundError.class,
                    cause(ipc.getConfigurationAsync(req)));
            assertEquals("Key not found", a.getMessage());

            // Its policies are the MQTT proxy's only: local pub/sub is refused with the nucleus' words.
            PublishToTopicRequest pub = new PublishToTopicRequest().withTopic("local/t").withPublishMessage(
                    new PublishMessage().withJsonMessage(new JsonMessage().withMessage(Map.of("k", "v"))));
            assertEquals(denied("PublishToTopic", "local/t"),
                    assertThrows(UnauthorizedError.class, () -> ipc.publishToTopic(pub)).getMessage());
            assertNotNull(ipc.updateState(new UpdateStateRequest().withState(ReportedLifecycleState.RUNNING)));

            // A streaming operation: refused when it opens, sync (thrown) and async (the response future).
            SubscribeToTopicRequest sub = new SubscribeToTopicRequest().withTopic("local/#")
                    .withReceiveMode(ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS);
            assertEquals(denied("SubscribeToTopic", "local/#"), assertThrows(UnauthorizedError.class,
                    () -> ipc.subscribeToTopic(sub, m -> {}, Optional.empty(), Optional.empty())).getMessage());
            GreengrassCoreIPCClientV2.StreamingResponse<CompletableFuture<io.ggipc.greengrass.model.SubscribeToTopicResponse>,
                    SubscribeToTopicResponseHandler> s =
                    ipc.subscribeToTopicAsync(sub, m -> {}, Optional.empty(), Optional.empty());
            assertEquals(denied("SubscribeToTopic", "local/#"),
                    assertInstanceOf(UnauthorizedError.class, cause(s.getResponse())).getMessage());
            // The connection is still good.
            ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("gen/ok").withQos("0")
                    .withPayload(new byte[] {1}));
        }
    }

    @Test
    void newOperationsReachTheServerAndComeBackTypedV1() throws Exception {
        try (EventStreamRPCConnection c = new EventStreamRPCConnection(
                new EventStreamRPCConnectionConfig(server.socket, server.fullToken))) {
            c.connect(null).get(10, TimeUnit.SECONDS);
            GreengrassCoreIPCClient ipc = new GreengrassCoreIPCClient(c);
            CompletableFuture<GetConfigurationResponse> f =
                    ipc.getConfiguration(new GetConfigurationRequest(), Optional.empty()).getResponse();
            assertEquals("Key not found",
                    assertInstanceOf(ResourceNotFoundError.class, cause(f)).getMessage());
            SubscribeToTopicResponseHandler h = ipc.subscribeToTopic(
                    new SubscribeToTopicRequest().withTopic("local/x"), Optional.empty());
            assertEquals(denied("SubscribeToTopic", "local/x"),
                    assertInstanceOf(UnauthorizedError.class, cause(h.getResponse())).getMessage());
        }
    }

    static PublishToIoTCoreRequest good() {
        return new PublishToIoTCoreRequest().withTopicName("gen/bad").withQos("1")
                .withPayload("p".getBytes(StandardCharsets.UTF_8));
    }

    /** The same bad input gives the server's error class and message, from every entry point. */
    @Test
    void badInputGivesTheServersErrors() throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = v2()) {
            InvalidArgumentsError q = assertThrows(InvalidArgumentsError.class,
                    () -> ipc.publishToIoTCore(good().withQos("2")));
            assertEquals("Invalid QoS value: 2", q.getMessage());
            assertEquals("Invalid QoS value: 2", assertInstanceOf(InvalidArgumentsError.class,
                    cause(ipc.publishToIoTCoreAsync(good().withQos("2")))).getMessage());
            assertEquals("Invalid QoS value: 2", assertThrows(InvalidArgumentsError.class,
                    () -> ipc.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName("gen/#").withQos("2"),
                            m -> {}, Optional.empty(), Optional.empty())).getMessage());

            InvalidArgumentsError pf = assertThrows(InvalidArgumentsError.class,
                    () -> ipc.publishToIoTCore(good().withPayloadFormat("7")));
            assertEquals("Invalid PayloadFormat value: 7", pf.getMessage());

            InvalidArgumentsError t = assertThrows(InvalidArgumentsError.class,
                    () -> ipc.publishToIoTCore(good().withTopicName(null)));
            assertEquals("Topic is required", t.getMessage());
            assertEquals("Topic is required", assertInstanceOf(InvalidArgumentsError.class,
                    cause(ipc.publishToIoTCoreAsync(good().withTopicName(null)))).getMessage());
            assertEquals("client", t.getErrorTypeString());
        }
        // A negative timeout is refused on this side, before anything is sent, with kind InvalidArgument.
        EventStreamRPCConnection c = new EventStreamRPCConnection(new EventStreamRPCConnectionConfig(server.socket,
                server.fullToken).withOperationTimeout(Duration.ofSeconds(-1)));
        EventStreamRPCException e = assertInstanceOf(EventStreamRPCException.class, cause(c.connect(null)));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
        assertEquals("operation timeout must be a positive, finite number of seconds, got -1", e.getMessage());
        IOException io = assertThrows(IOException.class, () -> GreengrassCoreIPCClientV2.builder()
                .withSocketPath(server.socket).withAuthToken(server.fullToken)
                .withConnectTimeout(Duration.ofSeconds(-1)).build());
        EventStreamRPCException ce = assertInstanceOf(EventStreamRPCException.class, io.getCause());
        assertEquals(ErrorCode.INVALID_ARGUMENT, ce.getCode());
        assertEquals("connect timeout must be a positive, finite number of seconds, got -1", ce.getMessage());
    }
}
