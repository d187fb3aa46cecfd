// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/model.hpp
 * @brief `ggipc::greengrass` model classes, mirroring `Aws::Greengrass`: the MQTT proxy's
 *        requests, responses, messages and enums and the modeled errors here, every other
 *        shape and enum of the model in the generated `model_generated.hpp` included below.
 */
#ifndef GGIPC_MODEL_HPP
#define GGIPC_MODEL_HPP

#include <cstdint>
#include <memory>
#include <utility>

#include "../ggipc.h"
#include "crt.hpp"
#include "eventstreamrpc.hpp"

namespace ggipc {
namespace greengrass {

/** MQTT QoS (`aws.greengrass#QOS`). */
enum QOS { QOS_AT_MOST_ONCE = 0, QOS_AT_LEAST_ONCE = 1 };

/** MQTT 5 payload format indicator (`aws.greengrass#PayloadFormat`). */
enum PayloadFormat { PAYLOAD_FORMAT_BYTES = 0, PAYLOAD_FORMAT_UTF8 = 1 };

/** An MQTT 5 user property. */
class UserProperty {
  public:
    UserProperty() noexcept = default;
    void SetKey(const crt::String &key) noexcept { m_key = key; }
    crt::Optional<crt::String> GetKey() const noexcept { return m_key; }
    void SetValue(const crt::String &value) noexcept { m_value = value; }
    crt::Optional<crt::String> GetValue() const noexcept { return m_value; }

  private:
    crt::Optional<crt::String> m_key;
    crt::Optional<crt::String> m_value;
};

/** Fields shared by the publish request and the received message. */
class MqttFields {
  public:
    void SetTopicName(const crt::String &topicName) noexcept { m_topicName = topicName; }
    crt::Optional<crt::String> GetTopicName() const noexcept { return m_topicName; }
    /** Sets the payload. As in the SDK, an empty payload is left out of the request. */
    void SetPayload(const crt::Vector<uint8_t> &payload) noexcept { m_payload = payload; }
    crt::Optional<crt::Vector<uint8_t>> GetPayload() const noexcept { return m_payload; }
    void SetRetain(bool retain) noexcept { m_retain = retain; }
    crt::Optional<bool> GetRetain() const noexcept { return m_retain; }
    void SetUserProperties(const crt::Vector<UserProperty> &userProperties) noexcept {
        m_userProperties = userProperties;
    }
    crt::Optional<crt::Vector<UserProperty>> GetUserProperties() const noexcept { return m_userProperties; }
    void SetMessageExpiryIntervalSeconds(const int64_t &seconds) noexcept { m_messageExpiryIntervalSeconds = seconds; }
    crt::Optional<int64_t> GetMessageExpiryIntervalSeconds() const noexcept { return m_messageExpiryIntervalSeconds; }
    void SetCorrelationData(const crt::Vector<uint8_t> &correlationData) noexcept { m_correlationData = correlationData; }
    crt::Optional<crt::Vector<uint8_t>> GetCorrelationData() const noexcept { return m_correlationData; }
    void SetResponseTopic(const crt::String &responseTopic) noexcept { m_responseTopic = responseTopic; }
    crt::Optional<crt::String> GetResponseTopic() const noexcept { return m_responseTopic; }
    void SetPayloadFormat(PayloadFormat payloadFormat) noexcept { m_payloadFormat = payloadFormat; }
    crt::Optional<PayloadFormat> GetPayloadFormat() const noexcept { return m_payloadFormat; }
    void SetContentType(const crt::String &contentType) noexcept { m_contentType = contentType; }
    crt::Optional<crt::String> GetContentType() const noexcept { return m_contentType; }

  protected:
    MqttFields() noexcept = default;

    crt::Optional<crt::String> m_topicName;
    crt::Optional<crt::Vector<uint8_t>> m_payload;
    crt::Optional<bool> m_retain;
    crt::Optional<crt::Vector<UserProperty>> m_userProperties;
    crt::Optional<int64_t> m_messageExpiryIntervalSeconds;
    crt::Optional<crt::Vector<uint8_t>> m_correlationData;
    crt::Optional<crt::String> m_responseTopic;
    crt::Optional<PayloadFormat> m_payloadFormat;
    crt::Optional<crt::String> m_contentType;
};

/** `aws.greengrass#PublishToIoTCoreRequest`. */
class PublishToIoTCoreRequest : public MqttFields {
  public:
    PublishToIoTCoreRequest() noexcept = default;
    void SetQos(QOS qos) noexcept { m_qos = qos; }
    crt::Optional<QOS> GetQos() const noexcept { return m_qos; }

  private:
    crt::Optional<QOS> m_qos;
};

/** `aws.greengrass#PublishToIoTCoreResponse` (no members). */
class PublishToIoTCoreResponse {
  public:
    PublishToIoTCoreResponse() noexcept = default;
};

/** `aws.greengrass#SubscribeToIoTCoreRequest`. */
class SubscribeToIoTCoreRequest {
  public:
    SubscribeToIoTCoreRequest() noexcept = default;
    void SetTopicName(const crt::String &topicName) noexcept { m_topicName = topicName; }
    crt::Optional<crt::String> GetTopicName() const noexcept { return m_topicName; }
    void SetQos(QOS qos) noexcept { m_qos = qos; }
    crt::Optional<QOS> GetQos() const noexcept { return m_qos; }

  private:
    crt::Optional<crt::String> m_topicName;
    crt::Optional<QOS> m_qos;
};

/** `aws.greengrass#SubscribeToIoTCoreResponse` (no members). */
class SubscribeToIoTCoreResponse {
  public:
    SubscribeToIoTCoreResponse() noexcept = default;
};

/** `aws.greengrass#MQTTMessage`: a message received from IoT Core. */
class MQTTMessage : public MqttFields {
  public:
    MQTTMessage() noexcept = default;

    /** Copies a message from the C API (NULL gives an empty message). */
    static MQTTMessage FromC(const ggipc_message *m) {
        MQTTMessage out;
        if (m == nullptr) {
            return out;
        }
        if (const char *t = ggipc_message_get_topic(m)) {
            out.m_topicName = crt::String(t);
        }
        size_t len = 0;
        if (const uint8_t *p = ggipc_message_get_payload(m, &len)) {
            out.m_payload = crt::Vector<uint8_t>(p, p + len);
        }
        bool retain = false;
        if (ggipc_message_get_retain(m, &retain)) {
            out.m_retain = retain;
        }
        const size_t n = ggipc_message_get_user_property_count(m);
        if (n > 0) {
            crt::Vector<UserProperty> props;
            props.reserve(n);
            for (size_t i = 0; i < n; ++i) {
                const char *k = nullptr;
                const char *v = nullptr;
                if (ggipc_message_get_user_property(m, i, &k, &v)) {
                    UserProperty p;
                    p.SetKey(k);
                    p.SetValue(v);
                    props.push_back(std::move(p));
                }
            }
            out.m_userProperties = std::move(props);
        }
        int64_t expiry = 0;
        if (ggipc_message_get_message_expiry_interval_seconds(m, &expiry)) {
            out.m_messageExpiryIntervalSeconds = expiry;
        }
        len = 0;
        if (const uint8_t *p = ggipc_message_get_correlation_data(m, &len)) {
            out.m_correlationData = crt::Vector<uint8_t>(p, p + len);
        }
        if (const char *t = ggipc_message_get_response_topic(m)) {
            out.m_responseTopic = crt::String(t);
        }
        ggipc_payload_format format = 0;
        if (ggipc_message_get_payload_format(m, &format)) {
            out.m_payloadFormat = format == GGIPC_PAYLOAD_FORMAT_UTF8 ? PAYLOAD_FORMAT_UTF8 : PAYLOAD_FORMAT_BYTES;
        }
        if (const char *t = ggipc_message_get_content_type(m)) {
            out.m_contentType = crt::String(t);
        }
        return out;
    }
};

/** `aws.greengrass#IoTCoreMessage`: the event of a SubscribeToIoTCore stream. */
class IoTCoreMessage {
  public:
    IoTCoreMessage() noexcept = default;
    void SetMessage(const MQTTMessage &message) noexcept { m_message = message; }
    crt::Optional<MQTTMessage> GetMessage() const noexcept { return m_message; }

  private:
    crt::Optional<MQTTMessage> m_message;
};

using eventstreamrpc::OperationError;

#define GGIPC_DECLARE_MODELED_ERROR(Name)                                                                    \
    /** Modeled error `aws.greengrass#Name`. */                                                            \
    class Name : public OperationError {                                                                   \
      public:                                                                                              \
        using OperationError::OperationError;                                                              \
    };

GGIPC_DECLARE_MODELED_ERROR(ServiceError)
GGIPC_DECLARE_MODELED_ERROR(UnauthorizedError)
GGIPC_DECLARE_MODELED_ERROR(InvalidArgumentsError)
GGIPC_DECLARE_MODELED_ERROR(ResourceNotFoundError)
GGIPC_DECLARE_MODELED_ERROR(ComponentNotFoundError)
GGIPC_DECLARE_MODELED_ERROR(ConflictError)
GGIPC_DECLARE_MODELED_ERROR(FailedUpdateConditionCheckError)
GGIPC_DECLARE_MODELED_ERROR(InvalidTokenError)
GGIPC_DECLARE_MODELED_ERROR(InvalidCredentialError)
GGIPC_DECLARE_MODELED_ERROR(InvalidArtifactsDirectoryPathError)
GGIPC_DECLARE_MODELED_ERROR(InvalidRecipeDirectoryPathError)
GGIPC_DECLARE_MODELED_ERROR(InvalidClientDeviceAuthTokenError)

#undef GGIPC_DECLARE_MODELED_ERROR

namespace detail {

using ggipc::detail::ErrorPtr;

/** The modeled error for a C error of a modeled kind, or nullptr for transport errors. */
inline std::shared_ptr<OperationError> MakeOperationError(const ggipc_error *e) {
    if (e == nullptr) {
        return nullptr;
    }
    const ggipc_error_kind kind = ggipc_error_get_kind(e);
    crt::Optional<crt::String> message = crt::String(ggipc_error_get_message(e));
    const char *smt = ggipc_error_get_service_model_type(e);
    crt::String model = smt != nullptr ? smt : "";
    crt::Optional<crt::String> context;
    if (const char *c = ggipc_error_get_context_json(e)) {
        context = crt::String(c);
    }
    switch (kind) {
#define GGIPC_CASE(K, Name)                                                                                  \
    case K: return std::make_shared<Name>(kind, message, model, context);
        GGIPC_CASE(GGIPC_ERROR_KIND_SERVICE_ERROR, ServiceError)
        GGIPC_CASE(GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR, UnauthorizedError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR, InvalidArgumentsError)
        GGIPC_CASE(GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR, ResourceNotFoundError)
        GGIPC_CASE(GGIPC_ERROR_KIND_COMPONENT_NOT_FOUND_ERROR, ComponentNotFoundError)
        GGIPC_CASE(GGIPC_ERROR_KIND_CONFLICT_ERROR, ConflictError)
        GGIPC_CASE(GGIPC_ERROR_KIND_FAILED_UPDATE_CONDITION_CHECK_ERROR, FailedUpdateConditionCheckError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_TOKEN_ERROR, InvalidTokenError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_CREDENTIAL_ERROR, InvalidCredentialError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR, InvalidArtifactsDirectoryPathError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_RECIPE_DIRECTORY_PATH_ERROR, InvalidRecipeDirectoryPathError)
        GGIPC_CASE(GGIPC_ERROR_KIND_INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR, InvalidClientDeviceAuthTokenError)
#undef GGIPC_CASE
    default: return nullptr;
    }
}

/** Converts a C result (NULL = success) into an operation result. */
template <typename Response>
eventstreamrpc::OperationResult<Response> MakeResult(const ggipc_error *e) {
    using Result = eventstreamrpc::OperationResult<Response>;
    if (e == nullptr) {
        return Result(Response());
    }
    if (auto op = MakeOperationError(e)) {
        return Result(std::move(op));
    }
    return Result(eventstreamrpc::RpcError::FromError(e));
}

} // namespace detail
} // namespace greengrass
} // namespace ggipc

// Every other enum and shape of the model, generated from it.
#include "model_generated.hpp"

#endif // GGIPC_MODEL_HPP
