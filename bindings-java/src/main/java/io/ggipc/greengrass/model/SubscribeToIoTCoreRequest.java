package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Objects;

/** Request of SubscribeToIoTCore: a topic filter and a QoS. */
public class SubscribeToIoTCoreRequest implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#SubscribeToIoTCoreRequest";

    private String topicName;
    private String qos;

    public SubscribeToIoTCoreRequest() {}

    public String getTopicName() {
        return topicName;
    }

    public void setTopicName(String topicName) {
        this.topicName = topicName;
    }

    public SubscribeToIoTCoreRequest withTopicName(String topicName) {
        setTopicName(topicName);
        return this;
    }

    public QOS getQos() {
        return qos == null ? null : QOS.get(qos);
    }

    public String getQosAsString() {
        return qos;
    }

    public void setQos(String qos) {
        this.qos = qos;
    }

    public SubscribeToIoTCoreRequest withQos(String qos) {
        setQos(qos);
        return this;
    }

    public void setQos(QOS qos) {
        this.qos = qos == null ? null : qos.getValue();
    }

    public SubscribeToIoTCoreRequest withQos(QOS qos) {
        setQos(qos);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SubscribeToIoTCoreRequest)) {
            return false;
        }
        SubscribeToIoTCoreRequest r = (SubscribeToIoTCoreRequest) o;
        return Objects.equals(topicName, r.topicName) && Objects.equals(qos, r.qos);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topicName, qos);
    }
}
