package io.ggipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ggipc.SharedTestServer;
import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The request body crosses to the native side as the writer's untrimmed buffer and its length. */
class RequestBodyTest extends SharedTestServer {
    private static NativeClient connect() {
        return NativeClient.connect(new EventStreamRPCConnectionConfig(server.socket, server.fullToken), null);
    }

    @Test
    void onlyTheWrittenBytesOfTheBufferAreSent() {
        byte[] payload = new byte[100_000];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;
        }
        PublishToIoTCoreRequest r = new PublishToIoTCoreRequest().withTopicName("body/t").withQos(QOS.AT_MOST_ONCE)
                .withPayload(payload);
        Operations.Body b = Operations.body(r::writeJson);
        // The buffer has room left past the body (it is not trimmed by a copy).
        org.junit.jupiter.api.Assertions.assertTrue(b.bytes.length > b.length, b.bytes.length + " vs " + b.length);
        // Garbage past the length must not reach the server: the publish is accepted as the body says.
        java.util.Arrays.fill(b.bytes, b.length, b.bytes.length, (byte) '}');
        NativeClient c = connect();
        try {
            assertNull(c.call("aws.greengrass#PublishToIoTCore", b));
        } finally {
            c.close();
        }
    }

    @Test
    void aLengthPastTheArrayIsAnErrorNotARead() {
        NativeClient c = connect();
        try {
            byte[] json = "{\"topicName\":\"t\",\"qos\":\"0\"}".getBytes(StandardCharsets.UTF_8);
            EventStreamRPCException e = assertThrows(EventStreamRPCException.class,
                    () -> c.call("aws.greengrass#PublishToIoTCore", new Operations.Body(json, json.length + 1)));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.getCode());
            assertEquals("request length " + (json.length + 1) + " is not within its array of " + json.length
                    + " bytes", e.getMessage());
            assertThrows(EventStreamRPCException.class,
                    () -> c.call("aws.greengrass#PublishToIoTCore", new Operations.Body(json, -1)));
        } finally {
            c.close();
        }
    }
}
