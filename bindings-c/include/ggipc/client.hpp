// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/client.hpp
 * @brief `ggipc::greengrass::GreengrassCoreIpcClient` and its MQTT proxy operations,
 *        mirroring `Aws::Greengrass::GreengrassCoreIpcClient`.
 *
 * Threading: stream handler callbacks run on the subscription's dispatcher thread
 * and lifecycle callbacks on the connection's lifecycle thread, never on an I/O
 * thread; both may call the client (blocking calls included) and may destroy the
 * operation or client that invoked them. Destroying an operation or client stops
 * its callbacks first (waiting for one in progress on another thread), so handlers
 * only need to outlive the object they were given to. Objects may be destroyed in
 * any order: an operation that outlives its client fails with
 * EVENT_STREAM_RPC_CONNECTION_CLOSED instead of crashing.
 */
#ifndef GGIPC_CLIENT_HPP
#define GGIPC_CLIENT_HPP

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <utility>

#include "../ggipc.h"
#include "crt.hpp"
#include "eventstreamrpc.hpp"
#include "model.hpp"

namespace ggipc {
namespace greengrass {

using eventstreamrpc::ConnectionLifecycleHandler;
using eventstreamrpc::EventStreamRpcStatusCode;
using eventstreamrpc::OnMessageFlushCallback;
using eventstreamrpc::OperationFuture;
using eventstreamrpc::OperationResult;
using eventstreamrpc::ResultType;
using eventstreamrpc::RpcError;
using eventstreamrpc::OPERATION_ERROR;
using eventstreamrpc::OPERATION_RESPONSE;
using eventstreamrpc::RPC_ERROR;
using eventstreamrpc::EVENT_STREAM_RPC_SUCCESS;
using eventstreamrpc::EVENT_STREAM_RPC_NULL_PARAMETER;
using eventstreamrpc::EVENT_STREAM_RPC_UNINITIALIZED;
using eventstreamrpc::EVENT_STREAM_RPC_ALLOCATION_ERROR;
using eventstreamrpc::EVENT_STREAM_RPC_CONNECTION_SETUP_FAILED;
using eventstreamrpc::EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED;
using eventstreamrpc::EVENT_STREAM_RPC_CONNECTION_ALREADY_ESTABLISHED;
using eventstreamrpc::EVENT_STREAM_RPC_CONNECTION_CLOSED;
using eventstreamrpc::EVENT_STREAM_RPC_CONTINUATION_CLOSED;
using eventstreamrpc::EVENT_STREAM_RPC_UNKNOWN_PROTOCOL_MESSAGE;
using eventstreamrpc::EVENT_STREAM_RPC_UNMAPPED_DATA;
using eventstreamrpc::EVENT_STREAM_RPC_UNSUPPORTED_CONTENT_TYPE;
using eventstreamrpc::EVENT_STREAM_RPC_CRT_ERROR;

/** `PublishToIoTCoreResult`: response, modeled error or RPC error. */
using PublishToIoTCoreResult = OperationResult<PublishToIoTCoreResponse>;
/** `SubscribeToIoTCoreResult`: response, modeled error or RPC error. */
using SubscribeToIoTCoreResult = OperationResult<SubscribeToIoTCoreResponse>;

/**
 * Connection settings. Empty values fall back to the environment the nucleus gives a
 * component (`AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`, `SVCUID`); zero
 * timeouts and queue size keep the library defaults (the same in every ggipc binding);
 * a negative timeout makes `Connect` fail with the core's message.
 */
class ConnectionConfig {
  public:
    ConnectionConfig() noexcept = default;
    void SetSocketPath(const crt::String &path) noexcept { m_socketPath = path; }
    const crt::String &GetSocketPath() const noexcept { return m_socketPath; }
    void SetAuthToken(const crt::String &token) noexcept { m_authToken = token; }
    const crt::String &GetAuthToken() const noexcept { return m_authToken; }
    void SetConnectTimeout(std::chrono::milliseconds t) noexcept { m_connectTimeout = t; }
    std::chrono::milliseconds GetConnectTimeout() const noexcept { return m_connectTimeout; }
    void SetOperationTimeout(std::chrono::milliseconds t) noexcept { m_operationTimeout = t; }
    std::chrono::milliseconds GetOperationTimeout() const noexcept { return m_operationTimeout; }
    /** Reconnect automatically and re-establish subscriptions (off by default). */
    void SetReconnect(bool enabled) noexcept { m_reconnect = enabled; }
    bool GetReconnect() const noexcept { return m_reconnect; }
    /** Messages each subscription buffers for a slow handler before newer ones are dropped (0: default). */
    void SetSubscriptionQueueSize(size_t messages) noexcept { m_subscriptionQueue = messages; }
    size_t GetSubscriptionQueueSize() const noexcept { return m_subscriptionQueue; }

  private:
    crt::String m_socketPath;
    crt::String m_authToken;
    std::chrono::milliseconds m_connectTimeout{0};
    std::chrono::milliseconds m_operationTimeout{0};
    bool m_reconnect = false;
    size_t m_subscriptionQueue = 0;
};

/** The SDK's default configuration: everything from the environment. */
class DefaultConnectionConfig : public ConnectionConfig {
  public:
    DefaultConnectionConfig() noexcept = default;
};

/**
 * Handler of a SubscribeToIoTCore stream. Override what you need; the defaults
 * route the typed `OnStreamError` overloads to `OnStreamError(OperationError *)`,
 * which closes the stream.
 */
class SubscribeToIoTCoreStreamHandler {
  public:
    virtual ~SubscribeToIoTCoreStreamHandler() = default;
    /** A message arrived; `response` is valid for the call only. */
    virtual void OnStreamEvent(IoTCoreMessage *response) { (void)response; }
    /** Return true to close the stream. */
    virtual bool OnStreamError(ServiceError *operationError) {
        return OnStreamError(static_cast<OperationError *>(operationError));
    }
    /** Return true to close the stream. */
    virtual bool OnStreamError(UnauthorizedError *operationError) {
        return OnStreamError(static_cast<OperationError *>(operationError));
    }
    /** Return true to close the stream. */
    virtual bool OnStreamError(OperationError *operationError) {
        (void)operationError;
        return true;
    }
    /** A transport-level stream error; return true to close the stream. */
    virtual bool OnStreamError(RpcError rpcError) {
        (void)rpcError;
        return true;
    }
    /** The stream closed; the last call this handler receives. */
    virtual void OnStreamClosed() {}

    /** The connection was lost; a reconnect is pending (ggipc extension). */
    virtual void OnStreamInterrupted(RpcError reason) { (void)reason; }
    /** The subscription was re-established after a reconnect (ggipc extension). */
    virtual void OnStreamResumed() {}
    /**
     * `dropped` messages were lost before the next one: the handler did not keep up with the bounded queue, or
     * the nucleus gave up waiting for this subscriber (ggipc extension).
     */
    virtual void OnStreamLagged(uint64_t dropped) { (void)dropped; }
};

namespace detail {

/** Shared ownership of a C client: the last owner frees it. */
struct ClientDeleter {
    void operator()(ggipc_client *c) const noexcept { ggipc_client_free(c); }
};
using ClientHandle = std::shared_ptr<ggipc_client>;

struct SubscriptionDeleter {
    void operator()(ggipc_subscription *s) const noexcept { ggipc_subscription_free(s); }
};
using SubscriptionHandle = std::shared_ptr<ggipc_subscription>;

struct PublishRequestDeleter {
    void operator()(ggipc_publish_request *r) const noexcept { ggipc_publish_request_free(r); }
};

inline RpcError NotConnected() {
    return RpcError(EVENT_STREAM_RPC_CONNECTION_CLOSED, GGIPC_ERROR_KIND_CONNECTION_CLOSED,
                    "the client is not connected");
}

inline RpcError OutOfMemory() {
    return RpcError(EVENT_STREAM_RPC_ALLOCATION_ERROR, GGIPC_ERROR_KIND_INTERNAL, "out of memory");
}

/**
 * What every stream bridge shares: the handler, its optional owner, and the callbacks that do not
 * depend on the operation. `Derived` adds `OnEvent` and `OnError`.
 */
template <typename Derived, typename Handler>
struct StreamBridgeBase {
    Handler *handler = nullptr;
    std::shared_ptr<Handler> keepAlive;

    StreamBridgeBase(Handler *h, std::shared_ptr<Handler> keep) noexcept : handler(h), keepAlive(std::move(keep)) {}

    static Derived *Of(void *userdata) noexcept {
        auto *self = static_cast<Derived *>(userdata);
        return self != nullptr && self->handler != nullptr ? self : nullptr;
    }
    static void OnInterrupted(void *userdata, const ggipc_error *reason) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamInterrupted(RpcError::FromError(reason));
            } catch (...) {
            }
        }
    }
    static void OnResumed(void *userdata) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamResumed();
            } catch (...) {
            }
        }
    }
    static void OnLagged(void *userdata, uint64_t dropped) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamLagged(dropped);
            } catch (...) {
            }
        }
    }
    static void OnClosed(void *userdata, const ggipc_error *reason) noexcept {
        (void)reason;
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamClosed();
            } catch (...) {
            }
        }
    }
    static void Free(void *userdata) noexcept { delete static_cast<Derived *>(userdata); }
};

/** The C number of a QoS (a number that is no QOS value is passed on for the library to refuse). */
inline ggipc_qos ToC(const crt::Optional<QOS> &qos) noexcept {
    if (!qos) {
        return GGIPC_QOS_UNSET;
    }
    return static_cast<ggipc_qos>(*qos);
}

/** Builds a C publish request; an empty payload or correlation data is left out, as in the SDK. */
inline ErrorPtr BuildRequest(const PublishToIoTCoreRequest &r,
                             std::unique_ptr<ggipc_publish_request, PublishRequestDeleter> &out) noexcept {
    const auto topic = r.GetTopicName();
    const auto payload = r.GetPayload();
    const bool hasPayload = payload && !payload->empty();
    ggipc_publish_request *req = nullptr;
    ErrorPtr err(ggipc_publish_request_new(topic ? topic->c_str() : nullptr, ToC(r.GetQos()),
                                           hasPayload ? payload->data() : nullptr,
                                           hasPayload ? payload->size() : 0, &req));
    if (err) {
        return err;
    }
    out.reset(req);
    if (auto retain = r.GetRetain()) {
        err.reset(ggipc_publish_request_set_retain(req, *retain));
    }
    if (auto props = r.GetUserProperties()) {
        for (const auto &p : *props) {
            if (err) {
                break;
            }
            const auto k = p.GetKey().value_or("");
            const auto v = p.GetValue().value_or("");
            err.reset(ggipc_publish_request_add_user_property(req, k.c_str(), v.c_str()));
        }
    }
    if (auto expiry = r.GetMessageExpiryIntervalSeconds(); expiry && !err) {
        err.reset(ggipc_publish_request_set_message_expiry_interval_seconds(req, *expiry));
    }
    if (auto cd = r.GetCorrelationData(); cd && !cd->empty() && !err) {
        err.reset(ggipc_publish_request_set_correlation_data(req, cd->data(), cd->size()));
    }
    if (auto rt = r.GetResponseTopic(); rt && !err) {
        err.reset(ggipc_publish_request_set_response_topic(req, rt->c_str()));
    }
    if (auto pf = r.GetPayloadFormat(); pf && !err) {
        err.reset(ggipc_publish_request_set_payload_format(req, static_cast<ggipc_payload_format>(*pf)));
    }
    if (auto ct = r.GetContentType(); ct && !err) {
        err.reset(ggipc_publish_request_set_content_type(req, ct->c_str()));
    }
    return err;
}

/** Lifecycle trampoline target; owned by the C library through free_userdata. */
struct LifecycleBridge {
    ConnectionLifecycleHandler *handler = nullptr;

    static void Call(void *userdata, ggipc_lifecycle_event event, const ggipc_error *reason) noexcept {
        auto *self = static_cast<LifecycleBridge *>(userdata);
        if (self == nullptr || self->handler == nullptr) {
            return;
        }
        try {
            switch (event) {
            case GGIPC_LIFECYCLE_CONNECTED: self->handler->OnConnectCallback(); break;
            case GGIPC_LIFECYCLE_DISCONNECTED: self->handler->OnDisconnectCallback(RpcError::FromError(reason)); break;
            case GGIPC_LIFECYCLE_ERROR: self->handler->OnErrorCallback(RpcError::FromError(reason)); break;
            default: break;
            }
        } catch (...) {
            // Exceptions must not cross into the library.
        }
    }
    static void Free(void *userdata) noexcept { delete static_cast<LifecycleBridge *>(userdata); }
};

/** Stream trampoline target; owned by the C library through free_userdata. */
struct StreamBridge {
    SubscribeToIoTCoreStreamHandler *handler = nullptr;
    std::shared_ptr<SubscribeToIoTCoreStreamHandler> keepAlive;

    static StreamBridge *Of(void *userdata) noexcept {
        auto *self = static_cast<StreamBridge *>(userdata);
        return self != nullptr && self->handler != nullptr ? self : nullptr;
    }
    static void OnMessage(void *userdata, const ggipc_message *message) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                IoTCoreMessage event;
                if (message != nullptr) {
                    event.SetMessage(MQTTMessage::FromC(message));
                }
                self->handler->OnStreamEvent(&event);
            } catch (...) {
            }
        }
    }
    static bool OnError(void *userdata, const ggipc_error *error) noexcept {
        auto *self = Of(userdata);
        if (self == nullptr) {
            return true;
        }
        try {
            auto op = MakeOperationError(error);
            if (!op) {
                return self->handler->OnStreamError(RpcError::FromError(error));
            }
            if (auto *e = dynamic_cast<ServiceError *>(op.get())) {
                return self->handler->OnStreamError(e);
            }
            if (auto *e = dynamic_cast<UnauthorizedError *>(op.get())) {
                return self->handler->OnStreamError(e);
            }
            return self->handler->OnStreamError(op.get());
        } catch (...) {
            return true;
        }
    }
    static void OnInterrupted(void *userdata, const ggipc_error *reason) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamInterrupted(RpcError::FromError(reason));
            } catch (...) {
            }
        }
    }
    static void OnResumed(void *userdata) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamResumed();
            } catch (...) {
            }
        }
    }
    static void OnLagged(void *userdata, uint64_t dropped) noexcept {
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamLagged(dropped);
            } catch (...) {
            }
        }
    }
    static void OnClosed(void *userdata, const ggipc_error *reason) noexcept {
        (void)reason;
        if (auto *self = Of(userdata)) {
            try {
                self->handler->OnStreamClosed();
            } catch (...) {
            }
        }
    }
    static void Free(void *userdata) noexcept { delete static_cast<StreamBridge *>(userdata); }
};

} // namespace detail

/**
 * `PublishToIoTCoreOperation`. Move-only; obtained from
 * `GreengrassCoreIpcClient::NewPublishToIoTCore()`.
 */
class PublishToIoTCoreOperation {
  public:
    explicit PublishToIoTCoreOperation(detail::ClientHandle client) noexcept : m_client(std::move(client)) {}
    PublishToIoTCoreOperation(PublishToIoTCoreOperation &&) noexcept = default;
    PublishToIoTCoreOperation &operator=(PublishToIoTCoreOperation &&) noexcept = default;
    PublishToIoTCoreOperation(const PublishToIoTCoreOperation &) = delete;
    PublishToIoTCoreOperation &operator=(const PublishToIoTCoreOperation &) = delete;

    /**
     * Sends the request (written on the calling thread when the socket allows). The
     * returned future is ready once the request has been handed to the connection;
     * `onMessageFlushCallback`, if set, is called before this returns.
     */
    std::future<RpcError> Activate(const PublishToIoTCoreRequest &request,
                                   OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {
        RpcError status = Start(request);
        if (onMessageFlushCallback) {
            try {
                onMessageFlushCallback(status ? 0 : status.crtError);
            } catch (...) {
            }
        }
        return eventstreamrpc::MakeReadyFuture(status);
    }

    /** The result future (see `OperationFuture`). */
    OperationFuture<PublishToIoTCoreResult> GetResult() noexcept {
        if (!m_started) {
            return OperationFuture<PublishToIoTCoreResult>::Ready(m_startResult);
        }
        struct Source : OperationFuture<PublishToIoTCoreResult>::Source {
            std::shared_ptr<ggipc_publish_operation> op;
            bool Wait(uint64_t ms) noexcept override { return ggipc_publish_operation_wait(op.get(), ms); }
            PublishToIoTCoreResult Take() noexcept override {
                detail::ErrorPtr e(ggipc_publish_operation_get_result(op.get()));
                return detail::MakeResult<PublishToIoTCoreResponse>(e.get());
            }
        };
        auto s = std::make_shared<Source>();
        s->op = m_op;
        return OperationFuture<PublishToIoTCoreResult>(std::move(s));
    }

    /** Nothing to close for a publish; returns a ready, successful future. */
    std::future<RpcError> Close(OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {
        if (onMessageFlushCallback) {
            try {
                onMessageFlushCallback(0);
            } catch (...) {
            }
        }
        return eventstreamrpc::MakeReadyFuture(RpcError());
    }

  private:
    RpcError Start(const PublishToIoTCoreRequest &request) noexcept {
        if (!m_client) {
            m_startResult = PublishToIoTCoreResult(detail::NotConnected());
            return detail::NotConnected();
        }
        std::unique_ptr<ggipc_publish_request, detail::PublishRequestDeleter> req;
        detail::ErrorPtr err = detail::BuildRequest(request, req);
        ggipc_publish_operation *op = nullptr;
        if (!err) {
            err.reset(ggipc_client_publish_begin(m_client.get(), req.get(), &op));
        }
        if (err) {
            // A value the nucleus would refuse (a QoS number that is no QOS, ...) is refused here with the
            // nucleus' modeled error, as the result: the activation itself succeeds, as with the nucleus.
            m_startResult = detail::MakeResult<PublishToIoTCoreResponse>(err.get());
            return m_startResult.GetResultType() == OPERATION_ERROR ? RpcError() : RpcError::FromError(err.get());
        }
        m_op = std::shared_ptr<ggipc_publish_operation>(op, [](ggipc_publish_operation *p) {
            ggipc_publish_operation_free(p);
        });
        m_started = true;
        return RpcError();
    }

    detail::ClientHandle m_client;
    std::shared_ptr<ggipc_publish_operation> m_op;
    bool m_started = false;
    PublishToIoTCoreResult m_startResult{RpcError(EVENT_STREAM_RPC_UNINITIALIZED, 0, "the operation was not activated")};
};

/**
 * `SubscribeToIoTCoreOperation`. Move-only; obtained from
 * `GreengrassCoreIpcClient::NewSubscribeToIoTCore(handler)`. Destroying it closes
 * the stream and stops the handler's callbacks.
 */
class SubscribeToIoTCoreOperation {
  public:
    SubscribeToIoTCoreOperation(detail::ClientHandle client, SubscribeToIoTCoreStreamHandler *handler,
                                std::shared_ptr<SubscribeToIoTCoreStreamHandler> keepAlive) noexcept
        : m_client(std::move(client)), m_handler(handler), m_keepAlive(std::move(keepAlive)) {}
    SubscribeToIoTCoreOperation(SubscribeToIoTCoreOperation &&other) noexcept { *this = std::move(other); }
    SubscribeToIoTCoreOperation &operator=(SubscribeToIoTCoreOperation &&other) noexcept {
        if (this != &other) {
            Stop();
            m_client = std::move(other.m_client);
            m_handler = other.m_handler;
            m_keepAlive = std::move(other.m_keepAlive);
            m_sub = std::move(other.m_sub);
            m_startError = other.m_startError;
            m_startResult = other.m_startResult;
            other.m_handler = nullptr;
        }
        return *this;
    }
    SubscribeToIoTCoreOperation(const SubscribeToIoTCoreOperation &) = delete;
    SubscribeToIoTCoreOperation &operator=(const SubscribeToIoTCoreOperation &) = delete;
    ~SubscribeToIoTCoreOperation() { Stop(); }

    /** Sends the subscribe request; the future is ready once it was handed to the connection. */
    std::future<RpcError> Activate(const SubscribeToIoTCoreRequest &request,
                                   OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {
        RpcError status = Start(request);
        if (onMessageFlushCallback) {
            try {
                onMessageFlushCallback(status ? 0 : status.crtError);
            } catch (...) {
            }
        }
        return eventstreamrpc::MakeReadyFuture(status);
    }

    /** The result future: ready when the nucleus accepted or refused the subscription. */
    OperationFuture<SubscribeToIoTCoreResult> GetResult() noexcept {
        if (!m_sub) {
            if (m_startResult.GetResultType() == OPERATION_ERROR) {
                return OperationFuture<SubscribeToIoTCoreResult>::Ready(m_startResult);
            }
            return OperationFuture<SubscribeToIoTCoreResult>::Ready(SubscribeToIoTCoreResult(m_startError));
        }
        struct Source : OperationFuture<SubscribeToIoTCoreResult>::Source {
            detail::SubscriptionHandle sub;
            bool Wait(uint64_t ms) noexcept override { return ggipc_subscription_wait(sub.get(), ms); }
            SubscribeToIoTCoreResult Take() noexcept override {
                detail::ErrorPtr e(ggipc_subscription_get_result(sub.get()));
                return detail::MakeResult<SubscribeToIoTCoreResponse>(e.get());
            }
        };
        auto s = std::make_shared<Source>();
        s->sub = m_sub;
        return OperationFuture<SubscribeToIoTCoreResult>(std::move(s));
    }

    /** Closes the stream; `OnStreamClosed` follows on the handler. Non-blocking, idempotent. */
    std::future<RpcError> Close(OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {
        ggipc_subscription_close(m_sub.get());
        if (onMessageFlushCallback) {
            try {
                onMessageFlushCallback(0);
            } catch (...) {
            }
        }
        return eventstreamrpc::MakeReadyFuture(RpcError());
    }

  private:
    RpcError Start(const SubscribeToIoTCoreRequest &request) noexcept {
        if (!m_client) {
            m_startError = detail::NotConnected();
            return m_startError;
        }
        if (m_handler == nullptr) {
            m_startError = RpcError(EVENT_STREAM_RPC_NULL_PARAMETER, GGIPC_ERROR_KIND_INVALID_ARGUMENT,
                                    "a stream handler is required");
            return m_startError;
        }
        Stop();
        static const ggipc_subscription_handler callbacks = {
            &detail::StreamBridge::OnMessage, &detail::StreamBridge::OnError,  &detail::StreamBridge::OnInterrupted,
            &detail::StreamBridge::OnResumed, &detail::StreamBridge::OnLagged, &detail::StreamBridge::OnClosed,
        };
        auto *bridge = new (std::nothrow) detail::StreamBridge{m_handler, m_keepAlive};
        if (bridge == nullptr) {
            m_startError = RpcError(EVENT_STREAM_RPC_ALLOCATION_ERROR, GGIPC_ERROR_KIND_INTERNAL, "out of memory");
            return m_startError;
        }
        const auto topic = request.GetTopicName();
        ggipc_subscription *sub = nullptr;
        detail::ErrorPtr err(ggipc_client_subscribe_begin(m_client.get(), topic ? topic->c_str() : nullptr,
                                                          detail::ToC(request.GetQos()), &callbacks, bridge,
                                                          &detail::StreamBridge::Free, &sub));
        if (err) {
            delete bridge;
            // As for a publish: a value the nucleus would refuse is its modeled error, as the result.
            m_startResult = detail::MakeResult<SubscribeToIoTCoreResponse>(err.get());
            m_startError = RpcError::FromError(err.get());
            return m_startResult.GetResultType() == OPERATION_ERROR ? RpcError() : m_startError;
        }
        m_sub = detail::SubscriptionHandle(sub, detail::SubscriptionDeleter());
        return RpcError();
    }

    void Stop() noexcept {
        if (m_sub) {
            ggipc_subscription_stop_callbacks(m_sub.get());
            ggipc_subscription_close(m_sub.get());
            m_sub.reset();
        }
    }

    detail::ClientHandle m_client;
    SubscribeToIoTCoreStreamHandler *m_handler = nullptr;
    std::shared_ptr<SubscribeToIoTCoreStreamHandler> m_keepAlive;
    detail::SubscriptionHandle m_sub;
    RpcError m_startError{EVENT_STREAM_RPC_UNINITIALIZED, 0, "the operation was not activated"};
    SubscribeToIoTCoreResult m_startResult{m_startError};
};

} // namespace greengrass
} // namespace ggipc

// Every other operation of the model, generated from it.
#include "operations_generated.hpp"

namespace ggipc {
namespace greengrass {

/**
 * `GreengrassCoreIpcClient`: one IPC connection to the nucleus. Not copyable.
 * `Connect` blocks until the handshake completes (bounded by the connect timeout)
 * and returns a ready future, as the SDK's is once the connection is up.
 */
class GreengrassCoreIpcClient : public detail::GeneratedOperations<GreengrassCoreIpcClient> {
  public:
    explicit GreengrassCoreIpcClient(crt::Io::ClientBootstrap &clientBootstrap,
                                     crt::Allocator *allocator = crt::g_allocator) noexcept {
        (void)clientBootstrap;
        (void)allocator;
    }
    GreengrassCoreIpcClient(const GreengrassCoreIpcClient &) = delete;
    GreengrassCoreIpcClient &operator=(const GreengrassCoreIpcClient &) = delete;
    ~GreengrassCoreIpcClient() { Close(); }

    /** Connects; `lifecycleHandler` must outlive the client (or its Close()). */
    std::future<RpcError> Connect(ConnectionLifecycleHandler &lifecycleHandler,
                                  const ConnectionConfig &connectionConfig = DefaultConnectionConfig()) noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_client) {
            return eventstreamrpc::MakeReadyFuture(RpcError(EVENT_STREAM_RPC_CONNECTION_ALREADY_ESTABLISHED, 0,
                                                            "the client is already connected"));
        }
        struct OptionsDeleter {
            void operator()(ggipc_client_options *o) const noexcept { ggipc_client_options_free(o); }
        };
        std::unique_ptr<ggipc_client_options, OptionsDeleter> opts(ggipc_client_options_new());
        if (!opts) {
            return eventstreamrpc::MakeReadyFuture(
                RpcError(EVENT_STREAM_RPC_ALLOCATION_ERROR, GGIPC_ERROR_KIND_INTERNAL, "out of memory"));
        }
        detail::ErrorPtr err;
        if (!connectionConfig.GetSocketPath().empty()) {
            err.reset(ggipc_client_options_set_socket_path(opts.get(), connectionConfig.GetSocketPath().c_str()));
        }
        if (!err && !connectionConfig.GetAuthToken().empty()) {
            err.reset(ggipc_client_options_set_auth_token(opts.get(), connectionConfig.GetAuthToken().c_str()));
        }
        if (!err) {
            err.reset(ggipc_client_options_set_connect_timeout_ms(
                opts.get(), static_cast<int64_t>(connectionConfig.GetConnectTimeout().count())));
        }
        if (!err) {
            err.reset(ggipc_client_options_set_operation_timeout_ms(
                opts.get(), static_cast<int64_t>(connectionConfig.GetOperationTimeout().count())));
        }
        if (!err) {
            err.reset(ggipc_client_options_set_reconnect(opts.get(), connectionConfig.GetReconnect()));
        }
        if (!err) {
            err.reset(ggipc_client_options_set_subscription_queue(opts.get(),
                                                                  connectionConfig.GetSubscriptionQueueSize()));
        }
        if (!err) {
            auto *bridge = new (std::nothrow) detail::LifecycleBridge{&lifecycleHandler};
            err.reset(ggipc_client_options_set_lifecycle_callback(opts.get(), &detail::LifecycleBridge::Call, bridge,
                                                                  &detail::LifecycleBridge::Free));
            if (err) {
                delete bridge;
            }
        }
        ggipc_client *client = nullptr;
        if (!err) {
            err.reset(ggipc_client_connect(opts.get(), &client));
        }
        if (err) {
            return eventstreamrpc::MakeReadyFuture(RpcError::FromError(err.get()));
        }
        m_client = detail::ClientHandle(client, detail::ClientDeleter());
        return eventstreamrpc::MakeReadyFuture(RpcError());
    }

    /** True between a successful Connect and Close. */
    bool IsConnected() const noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_client != nullptr;
    }

    /**
     * Stops lifecycle callbacks and closes the connection. Open operations get
     * EVENT_STREAM_RPC_CONNECTION_CLOSED; their handlers receive OnStreamClosed.
     */
    void Close() noexcept {
        detail::ClientHandle c;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            c = std::move(m_client);
        }
        if (c) {
            ggipc_client_stop_lifecycle_callbacks(c.get());
            ggipc_client_close(c.get());
        }
    }

    PublishToIoTCoreOperation NewPublishToIoTCore() noexcept { return PublishToIoTCoreOperation(Handle()); }

    /** The handler is not owned and must outlive the operation. */
    SubscribeToIoTCoreOperation NewSubscribeToIoTCore(SubscribeToIoTCoreStreamHandler &streamHandler) noexcept {
        return SubscribeToIoTCoreOperation(Handle(), &streamHandler, nullptr);
    }

    /** The handler is kept alive as long as the library may call it. */
    SubscribeToIoTCoreOperation
    NewSubscribeToIoTCore(std::shared_ptr<SubscribeToIoTCoreStreamHandler> streamHandler) noexcept {
        auto *raw = streamHandler.get();
        return SubscribeToIoTCoreOperation(Handle(), raw, std::move(streamHandler));
    }

    /** The underlying C client (valid while connected), for mixing with the C API. */
    const ggipc_client *GetCClient() const noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_client.get();
    }

  private:
    friend class detail::GeneratedOperations<GreengrassCoreIpcClient>;

    detail::ClientHandle Handle() const noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_client;
    }

    mutable std::mutex m_mutex;
    detail::ClientHandle m_client;
};

} // namespace greengrass
} // namespace ggipc

#endif // GGIPC_CLIENT_HPP
