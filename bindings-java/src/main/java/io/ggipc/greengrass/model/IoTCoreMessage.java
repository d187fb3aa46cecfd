package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Objects;

/** Stream event of SubscribeToIoTCore: one MQTT message. */
public class IoTCoreMessage implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#IoTCoreMessage";

    /** The members of this union. */
    public enum UnionMember {
        MESSAGE
    }

    private MQTTMessage message;

    public IoTCoreMessage() {}

    public MQTTMessage getMessage() {
        return message;
    }

    public void setMessage(MQTTMessage message) {
        this.message = message;
    }

    public IoTCoreMessage withMessage(MQTTMessage message) {
        setMessage(message);
        return this;
    }

    /** The member that is set, or {@code null}. */
    public UnionMember getSetUnionMember() {
        return message == null ? null : UnionMember.MESSAGE;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IoTCoreMessage && Objects.equals(message, ((IoTCoreMessage) o).message);
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(message);
    }
}
