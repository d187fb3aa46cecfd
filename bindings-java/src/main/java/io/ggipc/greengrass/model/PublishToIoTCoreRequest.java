package io.ggipc.greengrass.model;

import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** Request of PublishToIoTCore: topic, QoS, payload and the optional MQTT 5 properties. */
public class PublishToIoTCoreRequest implements EventStreamJsonMessage {
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#PublishToIoTCoreRequest";

    private String topicName;
    private String qos;
    private byte[] payload;
    private Boolean retain;
    private List<UserProperty> userProperties;
    private Long messageExpiryIntervalSeconds;
    private byte[] correlationData;
    private String responseTopic;
    private String payloadFormat;
    private String contentType;

    public PublishToIoTCoreRequest() {}

    public String getTopicName() {
        return topicName;
    }

    public void setTopicName(String topicName) {
        this.topicName = topicName;
    }

    public PublishToIoTCoreRequest withTopicName(String topicName) {
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

    public PublishToIoTCoreRequest withQos(String qos) {
        setQos(qos);
        return this;
    }

    public void setQos(QOS qos) {
        this.qos = qos == null ? null : qos.getValue();
    }

    public PublishToIoTCoreRequest withQos(QOS qos) {
        setQos(qos);
        return this;
    }

    public byte[] getPayload() {
        return payload;
    }

    public void setPayload(byte[] payload) {
        this.payload = payload;
    }

    public PublishToIoTCoreRequest withPayload(byte[] payload) {
        setPayload(payload);
        return this;
    }

    public Boolean isRetain() {
        return retain;
    }

    public void setRetain(Boolean retain) {
        this.retain = retain;
    }

    public PublishToIoTCoreRequest withRetain(Boolean retain) {
        setRetain(retain);
        return this;
    }

    public List<UserProperty> getUserProperties() {
        return userProperties;
    }

    public void setUserProperties(List<UserProperty> userProperties) {
        this.userProperties = userProperties;
    }

    public PublishToIoTCoreRequest withUserProperties(List<UserProperty> userProperties) {
        setUserProperties(userProperties);
        return this;
    }

    public Long getMessageExpiryIntervalSeconds() {
        return messageExpiryIntervalSeconds;
    }

    public void setMessageExpiryIntervalSeconds(Long messageExpiryIntervalSeconds) {
        this.messageExpiryIntervalSeconds = messageExpiryIntervalSeconds;
    }

    public PublishToIoTCoreRequest withMessageExpiryIntervalSeconds(Long messageExpiryIntervalSeconds) {
        setMessageExpiryIntervalSeconds(messageExpiryIntervalSeconds);
        return this;
    }

    public byte[] getCorrelationData() {
        return correlationData;
    }

    public void setCorrelationData(byte[] correlationData) {
        this.correlationData = correlationData;
    }

    public PublishToIoTCoreRequest withCorrelationData(byte[] correlationData) {
        setCorrelationData(correlationData);
        return this;
    }

    public String getResponseTopic() {
        return responseTopic;
    }

    public void setResponseTopic(String responseTopic) {
        this.responseTopic = responseTopic;
    }

    public PublishToIoTCoreRequest withResponseTopic(String responseTopic) {
        setResponseTopic(responseTopic);
        return this;
    }

    public PayloadFormat getPayloadFormat() {
        return payloadFormat == null ? null : PayloadFormat.get(payloadFormat);
    }

    public String getPayloadFormatAsString() {
        return payloadFormat;
    }

    public void setPayloadFormat(String payloadFormat) {
        this.payloadFormat = payloadFormat;
    }

    public PublishToIoTCoreRequest withPayloadFormat(String payloadFormat) {
        setPayloadFormat(payloadFormat);
        return this;
    }

    public void setPayloadFormat(PayloadFormat payloadFormat) {
        this.payloadFormat = payloadFormat == null ? null : payloadFormat.getValue();
    }

    public PublishToIoTCoreRequest withPayloadFormat(PayloadFormat payloadFormat) {
        setPayloadFormat(payloadFormat);
        return this;
    }

    public String getContentType() {
        return contentType;
    }

    public void setContentType(String contentType) {
        this.contentType = contentType;
    }

    public PublishToIoTCoreRequest withContentType(String contentType) {
        setContentType(contentType);
        return this;
    }

    @Override
    public String getApplicationModelType() {
        return APPLICATION_MODEL_TYPE;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PublishToIoTCoreRequest)) {
            return false;
        }
        PublishToIoTCoreRequest m = (PublishToIoTCoreRequest) o;
        return Objects.equals(topicName, m.topicName)
                && Objects.equals(qos, m.qos) &&
                Arrays.equals(payload, m.payload)
                && Objects.equals(retain, m.retain)
                && Objects.equals(userProperties, m.userProperties)
                && Objects.equals(messageExpiryIntervalSeconds, m.messageExpiryIntervalSeconds)
                && Arrays.equals(correlationData, m.correlationData)
                && Objects.equals(responseTopic, m.responseTopic)
                && Objects.equals(payloadFormat, m.payloadFormat)
                && Objects.equals(contentType, m.contentType);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topicName, Arrays.hashCode(payload), retain, userProperties,
                messageExpiryIntervalSeconds, Arrays.hashCode(correlationData), responseTopic, payloadFormat, contentType);
    }
}
