package io.ggipc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import io.ggipc.greengrass.model.IoTCoreMessage;
import io.ggipc.greengrass.model.MQTTMessage;
import io.ggipc.greengrass.model.PayloadFormat;
import io.ggipc.greengrass.model.ResourceNotFoundError;
import io.ggipc.greengrass.model.ServiceError;
import io.ggipc.greengrass.model.UserProperty;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The hand-written JSON reader and writer, on the JSON the server sends. */
class JsonTest {
    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void readsAnEventAsTheServerWritesIt() {
        String wire = "{\"message\":{\"topicName\":\"a/\\u00e9\\\"x\\\"\",\"payload\":\"AQID\",\"retain\":false,"
                + "\"userProperties\":[{\"key\":\"k\",\"value\":\"v\u00fc\"}],\"messageExpiryIntervalSeconds\":42,"
                + "\"correlationData\":null,\"payloadFormat\":\"1\",\"future\":{\"x\":[1,2.5e3,true,null]}}}";
        IoTCoreMessage e = IoTCoreMessage.fromJson(utf8(wire));
        MQTTMessage m = e.getMessage();
        assertEquals("a/\u00e9\"x\"", m.getTopicName());
        assertArrayEquals(new byte[] {1, 2, 3}, m.getPayload());
        assertEquals(Boolean.FALSE, m.isRetain());
        assertEquals(List.of(new UserProperty().withKey("k").withValue("v\u00fc")), m.getUserProperties());
        assertEquals(42L, m.getMessageExpiryIntervalSeconds());
        assertNull(m.getCorrelationData());
        assertEquals(PayloadFormat.UTF8, m.getPayloadFormat());
        assertEquals(IoTCoreMessage.UnionMember.MESSAGE, e.getSetUnionMember());
    }

    @Test
    void writesEscapesAndNonAscii() {
        JsonWriter w = new JsonWriter(1);
        w.beginObject();
        w.name("s");
        w.value("q\"b\\n\n\u0001\u00e9\ud83d\ude00");
        w.name("l");
        w.document(List.of(1, 2.5, "x", Map.of()));
        w.endObject();
        String json = new String(w.toByteArray(), StandardCharsets.UTF_8);
        assertEquals("{\"s\":\"q\\\"b\\\\n\\n\\u0001\u00e9\ud83d\ude00\",\"l\":[1,2.5,\"x\",{}]}", json);
        JsonReader r = new JsonReader(w.toByteArray());
        r.beginObject();
        assertEquals("s", r.nextName());
        assertEquals("q\"b\\n\n\u0001\u00e9\ud83d\ude00", r.nextString());
        assertEquals("l", r.nextName());
        assertEquals(List.of(1.0, 2.5, "x", Map.of()), r.nextDocument());
        assertNull(r.nextName());
        r.end();
    }

    @Test
    void malformedJsonIsAnUnmappedError() {
        for (String bad : new String[] {"{\"message\":", "{\"message\":{\"payload\":\"@@\"}}", "[1]", "{} x",
                "{\"message\":{\"retain\":maybe}}"}) {
            EventStreamRPCException e = assertThrows(EventStreamRPCException.class,
                    () -> IoTCoreMessage.fromJson(utf8(bad)), bad);
            assertEquals(ErrorCode.UNMAPPED, e.getCode(), bad);
        }
    }

    @Test
    void modeledErrorsKeepTheirOtherMembers() {
        ServiceError s = (ServiceError) Errors.fromNative(100, "Subscribe failed",
                utf8("{\"message\":\"Subscribe failed\",\"context\":{\"reasonCode\":135}}"));
        assertEquals("Subscribe failed", s.getMessage());
        assertEquals(Map.of("reasonCode", 135.0), s.getContext());
        ResourceNotFoundError r = (ResourceNotFoundError) Errors.fromNative(103, "none",
                utf8("{\"message\":\"none\",\"resourceType\":\"component\",\"resourceName\":\"x\"}"));
        assertEquals("component", r.getResourceType());
        assertEquals("x", r.getResourceName());
        // A body that cannot be read keeps the kind and the message.
        ServiceError broken = (ServiceError) Errors.fromNative(100, "m", utf8("{oops"));
        assertEquals("m", broken.getMessage());
        assertNull(broken.getContext());
    }
}
