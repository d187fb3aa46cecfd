// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/client.hpp
 * @brief `ggipc::greengrass::GreengrassCoreIpcClient`, mirroring `Aws::Greengrass::GreengrassCoreIpcClient`;
 *        its operations (`New<Op>()` and the `<Op>Operation` classes) are generated into
 *        `operations_generated.hpp` (included below).
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

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
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
using eventstreamrpc::ReadyFuture;
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

namespace detail {

/** Shared ownership of a C client: the last owner frees it. */
struct ClientDeleter {
    void operator()(ggipc_client *c) const noexcept { ggipc_client_free(c); }
};
using ClientHandle = std::shared_ptr<ggipc_client>;

/**
 * The client's handle, read by every `New<Op>()`: a spin flag held only while the pointer is copied or swapped
 * (a reference-count increment), so reading it costs an atomic exchange and a store, not a system lock.
 * `Connect` and `Close` are serialised by the client's own mutex, never while this flag is held.
 */
class HandleSlot {
  public:
    ClientHandle Load() const noexcept {
        Guard g(m_busy);
        return m_handle;
    }
    /** Puts `h` in and returns the handle it replaces (released by the caller, outside the flag). */
    ClientHandle Exchange(ClientHandle h) noexcept {
        Guard g(m_busy);
        m_handle.swap(h);
        return h;
    }
    ggipc_client *Get() const noexcept {
        Guard g(m_busy);
        return m_handle.get();
    }

  private:
    struct Guard {
        explicit Guard(std::atomic_flag &f) noexcept : flag(f) {
            while (flag.test_and_set(std::memory_order_acquire)) {
                std::this_thread::yield();
            }
        }
        ~Guard() { flag.clear(std::memory_order_release); }
        std::atomic_flag &flag;
    };
    mutable std::atomic_flag m_busy = ATOMIC_FLAG_INIT;
    ClientHandle m_handle;
};

struct SubscriptionDeleter {
    void operator()(ggipc_subscription *s) const noexcept { ggipc_subscription_free(s); }
};
using SubscriptionHandle = std::shared_ptr<ggipc_subscription>;

struct CallDeleter {
    void operator()(ggipc_call *c) const noexcept { ggipc_call_free(c); }
};
/** A request/response call in flight, owned by its operation until `GetResult()` hands it to the future. */
using CallPtr = std::unique_ptr<ggipc_call, CallDeleter>;

inline RpcError NotConnected() {
    return RpcError(EVENT_STREAM_RPC_CONNECTION_CLOSED, GGIPC_ERROR_KIND_CONNECTION_CLOSED,
                    "the client is not connected");
}

/** The result of an operation whose `Activate` was never called. */
inline RpcError NotActivated() {
    return RpcError(EVENT_STREAM_RPC_UNINITIALIZED, 0, "the operation was not activated");
}

/** The result of an activation whose `GetResult()` future was already handed out. */
inline RpcError AlreadyRetrieved() {
    return RpcError(EVENT_STREAM_RPC_UNINITIALIZED, 0,
                    "the result of this activation was already retrieved (GetResult gives it once)");
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

} // namespace detail
} // namespace greengrass
} // namespace ggipc

// Every operation of the model, generated from it.
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
        if (m_client.Get() != nullptr) {
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
        m_client.Exchange(detail::ClientHandle(client, detail::ClientDeleter()));
        return eventstreamrpc::MakeReadyFuture(RpcError());
    }

    /** True between a successful Connect and Close. */
    bool IsConnected() const noexcept { return m_client.Get() != nullptr; }

    /**
     * Stops lifecycle callbacks and closes the connection. Open operations get
     * EVENT_STREAM_RPC_CONNECTION_CLOSED; their handlers receive OnStreamClosed.
     */
    void Close() noexcept {
        detail::ClientHandle c;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            c = m_client.Exchange(nullptr);
        }
        if (c) {
            ggipc_client_stop_lifecycle_callbacks(c.get());
            ggipc_client_close(c.get());
        }
    }

    /** The underlying C client (valid while connected), for mixing with the C API. */
    const ggipc_client *GetCClient() const noexcept { return m_client.Get(); }

  private:
    friend class detail::GeneratedOperations<GreengrassCoreIpcClient>;

    detail::ClientHandle Handle() const noexcept { return m_client.Load(); }

    /** Serialises Connect and Close. */
    std::mutex m_mutex;
    detail::HandleSlot m_client;
};

} // namespace greengrass
} // namespace ggipc

#endif // GGIPC_CLIENT_HPP
