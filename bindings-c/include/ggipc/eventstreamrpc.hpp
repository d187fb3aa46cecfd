// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/eventstreamrpc.hpp
 * @brief `ggipc::eventstreamrpc`: connection-level types mirroring `Aws::Eventstreamrpc`
 *        (RpcError, ConnectionLifecycleHandler, OperationError, results and futures).
 *
 * Header-only, C++17, over the C API in ggipc.h. Every name here is also visible
 * in `ggipc::greengrass`, as the SDK's Greengrass header makes them visible there.
 */
#ifndef GGIPC_EVENTSTREAMRPC_HPP
#define GGIPC_EVENTSTREAMRPC_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <type_traits>
#include <utility>

#include "../ggipc.h"
#include "crt.hpp"

namespace ggipc {
namespace detail {

/** Deleter for error objects returned by the C API. */
struct ErrorDeleter {
    void operator()(ggipc_error *e) const noexcept { ggipc_error_free(e); }
};
/** Owning pointer to a C error object. */
using ErrorPtr = std::unique_ptr<ggipc_error, ErrorDeleter>;

} // namespace detail

namespace eventstreamrpc {

/** Status codes of `RpcError`, named as in the SDK. */
enum EventStreamRpcStatusCode {
    EVENT_STREAM_RPC_SUCCESS = 0,
    EVENT_STREAM_RPC_NULL_PARAMETER,
    EVENT_STREAM_RPC_UNINITIALIZED,
    EVENT_STREAM_RPC_ALLOCATION_ERROR,
    EVENT_STREAM_RPC_CONNECTION_SETUP_FAILED,
    EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED,
    EVENT_STREAM_RPC_CONNECTION_ALREADY_ESTABLISHED,
    EVENT_STREAM_RPC_CONNECTION_CLOSED,
    EVENT_STREAM_RPC_CONTINUATION_CLOSED,
    EVENT_STREAM_RPC_UNKNOWN_PROTOCOL_MESSAGE,
    EVENT_STREAM_RPC_UNMAPPED_DATA,
    EVENT_STREAM_RPC_UNSUPPORTED_CONTENT_TYPE,
    EVENT_STREAM_RPC_CRT_ERROR,
};

/**
 * A connection or transport level error (success when `baseStatus` is
 * `EVENT_STREAM_RPC_SUCCESS`). Unlike the SDK's, it keeps a message saying what
 * happened; `crtError` holds the `GGIPC_ERROR_KIND_*` number.
 */
struct RpcError {
    EventStreamRpcStatusCode baseStatus = EVENT_STREAM_RPC_SUCCESS;
    int crtError = 0;
    crt::String message;

    RpcError() = default;
    RpcError(EventStreamRpcStatusCode status, int error, crt::String msg = {})
        : baseStatus(status), crtError(error), message(std::move(msg)) {}

    /** Builds an RpcError from a C error (NULL = success). */
    static RpcError FromError(const ggipc_error *e) {
        if (e == nullptr) {
            return RpcError();
        }
        const ggipc_error_kind kind = ggipc_error_get_kind(e);
        EventStreamRpcStatusCode status = EVENT_STREAM_RPC_CRT_ERROR;
        switch (kind) {
        case GGIPC_ERROR_KIND_CONNECT_FAILED: status = EVENT_STREAM_RPC_CONNECTION_SETUP_FAILED; break;
        case GGIPC_ERROR_KIND_ACCESS_DENIED: status = EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED; break;
        case GGIPC_ERROR_KIND_CONNECTION_CLOSED: status = EVENT_STREAM_RPC_CONNECTION_CLOSED; break;
        case GGIPC_ERROR_KIND_STREAM_CLOSED: status = EVENT_STREAM_RPC_CONTINUATION_CLOSED; break;
        case GGIPC_ERROR_KIND_PROTOCOL:
        case GGIPC_ERROR_KIND_INVALID_FRAME: status = EVENT_STREAM_RPC_UNKNOWN_PROTOCOL_MESSAGE; break;
        case GGIPC_ERROR_KIND_UNMAPPED: status = EVENT_STREAM_RPC_UNMAPPED_DATA; break;
        default: status = EVENT_STREAM_RPC_CRT_ERROR; break;
        }
        return RpcError(status, static_cast<int>(kind), ggipc_error_get_message(e));
    }

    /** True on success, as in the SDK (`if (!status)` tests for failure). */
    explicit operator bool() const noexcept { return baseStatus == EVENT_STREAM_RPC_SUCCESS; }

    /** The status name, followed by the message when there is one. */
    crt::String StatusToString() const {
        static const char *const names[] = {
            "EVENT_STREAM_RPC_SUCCESS",
            "EVENT_STREAM_RPC_NULL_PARAMETER",
            "EVENT_STREAM_RPC_UNINITIALIZED",
            "EVENT_STREAM_RPC_ALLOCATION_ERROR",
            "EVENT_STREAM_RPC_CONNECTION_SETUP_FAILED",
            "EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED",
            "EVENT_STREAM_RPC_CONNECTION_ALREADY_ESTABLISHED",
            "EVENT_STREAM_RPC_CONNECTION_CLOSED",
            "EVENT_STREAM_RPC_CONTINUATION_CLOSED",
            "EVENT_STREAM_RPC_UNKNOWN_PROTOCOL_MESSAGE",
            "EVENT_STREAM_RPC_UNMAPPED_DATA",
            "EVENT_STREAM_RPC_UNSUPPORTED_CONTENT_TYPE",
            "EVENT_STREAM_RPC_CRT_ERROR",
        };
        const auto i = static_cast<size_t>(baseStatus);
        crt::String s = i < sizeof(names) / sizeof(names[0]) ? names[i] : "EVENT_STREAM_RPC_UNKNOWN";
        if (!message.empty()) {
            s += ": ";
            s += message;
        }
        return s;
    }
};

/** Prints `StatusToString()`. */
inline std::ostream &operator<<(std::ostream &os, const RpcError &e) { return os << e.StatusToString(); }

/**
 * Connection lifecycle callbacks. They run on the connection's lifecycle thread
 * (never on an I/O thread), one at a time, and may call the client, including
 * destroying it. Destroying the client stops them (waiting for one in progress on
 * another thread), so a handler only needs to outlive the client.
 */
class ConnectionLifecycleHandler {
  public:
    virtual ~ConnectionLifecycleHandler() = default;
    /** The connection is established (after Connect and after each reconnect). */
    virtual void OnConnectCallback() {}
    /** The connection was lost or closed by the peer. */
    virtual void OnDisconnectCallback(RpcError status) { (void)status; }
    /** A connection-level error; return true to close the connection. */
    virtual bool OnErrorCallback(RpcError status) {
        (void)status;
        return true;
    }
};

/** Called once the request has been handed to the connection; the argument is 0 on success. */
using OnMessageFlushCallback = std::function<void(int errorCode)>;

/** Base class of modeled service errors (ServiceError, UnauthorizedError, ...). */
class OperationError {
  public:
    OperationError(ggipc_error_kind kind, crt::Optional<crt::String> message, crt::String modelName,
                   crt::Optional<crt::String> contextJson) noexcept
        : m_kind(kind), m_message(std::move(message)), m_modelName(std::move(modelName)),
          m_context(std::move(contextJson)) {}
    virtual ~OperationError() = default;
    /** The server's message. */
    virtual crt::Optional<crt::String> GetMessage() const noexcept { return m_message; }
    /** The shape id, e.g. `aws.greengrass#UnauthorizedError`. */
    virtual crt::String GetModelName() const noexcept { return m_modelName; }
    /** The `GGIPC_ERROR_KIND_*` number. */
    ggipc_error_kind GetKind() const noexcept { return m_kind; }
    /** The `context` member as JSON text (ServiceError only). */
    crt::Optional<crt::String> GetContextJson() const noexcept { return m_context; }

  private:
    ggipc_error_kind m_kind;
    crt::Optional<crt::String> m_message;
    crt::String m_modelName;
    crt::Optional<crt::String> m_context;
};

/** What a result holds. */
enum ResultType { OPERATION_RESPONSE, OPERATION_ERROR, RPC_ERROR };

/**
 * Result of an operation: the response, a modeled error, or an RpcError.
 * Copies share the response/error objects.
 */
template <typename Response>
class OperationResult {
  public:
    OperationResult() noexcept
        : m_type(RPC_ERROR), m_rpcError(EVENT_STREAM_RPC_UNINITIALIZED, 0, "no result") {}
    explicit OperationResult(Response response) noexcept
        : m_type(OPERATION_RESPONSE), m_response(Share(std::move(response))) {}
    explicit OperationResult(std::shared_ptr<OperationError> error) noexcept
        : m_type(OPERATION_ERROR), m_error(std::move(error)) {}
    explicit OperationResult(RpcError error) noexcept : m_type(RPC_ERROR), m_rpcError(std::move(error)) {}

    /** True when the operation succeeded. */
    explicit operator bool() const noexcept { return m_type == OPERATION_RESPONSE; }
    ResultType GetResultType() const noexcept { return m_type; }
    /** The response, or nullptr. Owned by the result. */
    Response *GetOperationResponse() const noexcept { return m_response.get(); }
    /** The modeled error, or nullptr. Owned by the result. */
    OperationError *GetOperationError() const noexcept { return m_error.get(); }
    /** The RPC error (success status unless `GetResultType() == RPC_ERROR`). */
    RpcError GetRpcError() const noexcept { return m_rpcError; }

  private:
    /**
     * The response behind a shared pointer. A response with no members (a publish's) has no state to share:
     * every result points at one instance, without an allocation or a reference count.
     */
    static std::shared_ptr<Response> Share(Response &&response) {
        if constexpr (std::is_empty_v<Response>) {
            static Response empty;
            return std::shared_ptr<Response>(std::shared_ptr<Response>(), &empty);
        } else {
            return std::make_shared<Response>(std::move(response));
        }
    }

    ResultType m_type;
    std::shared_ptr<Response> m_response;
    std::shared_ptr<OperationError> m_error;
    RpcError m_rpcError;
};

/** A `std::future` that is already complete with `value`. */
template <typename T>
std::future<T> MakeReadyFuture(T value) {
    std::promise<T> p;
    p.set_value(std::move(value));
    return p.get_future();
}

template <typename T>
class ReadyFuture;

namespace detail {
/** The value of a valid `ReadyFuture`, read without consuming it (for the library's own `Activate`). */
template <typename T>
const T &ReadyValue(const ReadyFuture<T> &future) noexcept;
} // namespace detail

/**
 * The future returned by `Activate` and `Close`: complete from the start (the request has been handed to the
 * connection when they return), with the waiting interface of `std::future` (`valid`, `wait`, `wait_for`,
 * `wait_until`, a one-time `get`, `share`) and no shared state: no allocation, no synchronisation. It converts
 * to the `std::future<T>` the SDK returns wherever one is asked for (`std::future<RpcError> f = op.Activate(r);`).
 * `T` is default-constructible (an invalid future holds a `T()`).
 */
template <typename T>
class ReadyFuture {
  public:
    /** An invalid future (as a default-constructed `std::future`). */
    ReadyFuture() noexcept(std::is_nothrow_default_constructible_v<T>) = default;
    explicit ReadyFuture(T &&value) noexcept(std::is_nothrow_move_constructible_v<T>)
        : m_value(std::move(value)), m_valid(true) {}
    explicit ReadyFuture(const T &value) : m_value(value), m_valid(true) {}
    /** Complete with the value `make()` returns, built in place (not moved). */
    template <typename F, std::enable_if_t<std::is_same_v<std::invoke_result_t<F &>, T>, int> = 0>
    ReadyFuture(std::in_place_t, F &&make) noexcept(noexcept(make())) : m_value(make()), m_valid(true) {}
    ReadyFuture(ReadyFuture &&other) noexcept(std::is_nothrow_move_constructible_v<T>)
        : m_value(std::move(other.m_value)), m_valid(std::exchange(other.m_valid, false)) {}
    ReadyFuture &operator=(ReadyFuture &&other) noexcept(std::is_nothrow_move_assignable_v<T>) {
        if (this != &other) {
            m_value = std::move(other.m_value);
            m_valid = std::exchange(other.m_valid, false);
        }
        return *this;
    }
    ReadyFuture(const ReadyFuture &) = delete;
    ReadyFuture &operator=(const ReadyFuture &) = delete;

    bool valid() const noexcept { return m_valid; }
    void wait() const noexcept {}
    template <typename Rep, typename Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period> &) const noexcept {
        return std::future_status::ready;
    }
    template <typename Clock, typename Duration>
    std::future_status wait_until(const std::chrono::time_point<Clock, Duration> &) const noexcept {
        return std::future_status::ready;
    }
    /** The value; the future is no longer valid afterwards (an invalid future gives `T()`). */
    T get() noexcept(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_default_constructible_v<T>) {
        if (!m_valid) {
            return T();
        }
        m_valid = false;
        return std::move(m_value);
    }
    /** As `std::future::share`. */
    std::shared_future<T> share() { return std::future<T>(std::move(*this)).share(); }
    /** The same value as a `std::future` (costs its shared state). */
    operator std::future<T>() && {
        if (!m_valid) {
            return std::future<T>();
        }
        return MakeReadyFuture(get());
    }

  private:
    friend const T &detail::ReadyValue<T>(const ReadyFuture<T> &) noexcept;
    T m_value{};
    bool m_valid = false;
};

namespace detail {
template <typename T>
const T &ReadyValue(const ReadyFuture<T> &future) noexcept {
    return future.m_value;
}
} // namespace detail

/**
 * The future returned by `GetResult()`. It has the waiting interface of `std::future` (`valid`, `wait`,
 * `wait_for`, `wait_until` returning `std::future_status`, a one-time `get`; move-only), but waiting happens
 * directly on the library's completion signal, so a synchronous call costs no extra thread hand-off, and a
 * request/response call's future holds the C call itself (no allocation). `ToStdFuture()` converts it when a
 * real `std::future` is required.
 */
template <typename T>
class OperationFuture {
  public:
    /** Where the result of a stream's activation comes from. */
    struct Source {
        virtual ~Source() = default;
        /** Waits up to `timeoutMs` (UINT64_MAX = no limit); true once complete. */
        virtual bool Wait(uint64_t timeoutMs) noexcept = 0;
        /** The result; called once, after Wait returned true. */
        virtual T Take() noexcept = 0;
    };
    /** Waits for a request/response call, reads its result and releases the call. */
    using FinishFn = T (*)(ggipc_call *call) noexcept;

    OperationFuture() noexcept = default;
    explicit OperationFuture(std::shared_ptr<Source> source) noexcept : m_source(std::move(source)) {}
    /** Owns `call` (released with the future); `finish` gives its result in `get`, consuming it. */
    OperationFuture(ggipc_call *call, FinishFn finish) noexcept : m_call(call), m_finish(finish) {}
    OperationFuture(OperationFuture &&other) noexcept { *this = std::move(other); }
    OperationFuture &operator=(OperationFuture &&other) noexcept {
        if (this != &other) {
            Release();
            m_source = std::move(other.m_source);
            m_call = other.m_call;
            m_finish = other.m_finish;
            m_ready = std::move(other.m_ready);
            other.m_call = nullptr;
            other.m_ready.reset();
        }
        return *this;
    }
    OperationFuture(const OperationFuture &) = delete;
    OperationFuture &operator=(const OperationFuture &) = delete;
    ~OperationFuture() { Release(); }

    /** A future that is already complete. */
    static OperationFuture Ready(T value) noexcept {
        OperationFuture f;
        f.m_ready.emplace(std::move(value));
        return f;
    }

    bool valid() const noexcept { return m_call != nullptr || m_source != nullptr || m_ready.has_value(); }

    void wait() const noexcept { Wait(UINT64_MAX); }

    template <typename Rep, typename Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period> &timeout) const noexcept {
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
        if (ms < 0) {
            ms = 0;
        }
        return Wait(static_cast<uint64_t>(ms)) ? std::future_status::ready : std::future_status::timeout;
    }

    template <typename Clock, typename Duration>
    std::future_status wait_until(const std::chrono::time_point<Clock, Duration> &deadline) const noexcept {
        return wait_for(deadline - Clock::now());
    }

    /** Waits for and returns the result; the future is no longer valid afterwards. */
    T get() noexcept {
        if (m_call != nullptr) {
            ggipc_call *call = m_call;
            m_call = nullptr;
            return m_finish(call);
        }
        if (m_source) {
            m_source->Wait(UINT64_MAX);
            std::shared_ptr<Source> s = std::move(m_source);
            return s->Take();
        }
        if (m_ready) {
            T r = std::move(*m_ready);
            m_ready.reset();
            return r;
        }
        return T();
    }

    /** Converts to a `std::future` completed by a helper thread (costs a thread). */
    std::future<T> ToStdFuture() && {
        auto self = std::make_shared<OperationFuture>(std::move(*this));
        return std::async(std::launch::async, [self]() { return self->get(); });
    }

  private:
    bool Wait(uint64_t ms) const noexcept {
        if (m_call != nullptr) {
            return ggipc_call_wait(m_call, ms);
        }
        if (m_source) {
            return m_source->Wait(ms);
        }
        return true;
    }

    void Release() noexcept {
        if (m_call != nullptr) {
            ggipc_call_free(m_call);
            m_call = nullptr;
        }
    }

    std::shared_ptr<Source> m_source;
    ggipc_call *m_call = nullptr;
    FinishFn m_finish = nullptr;
    std::optional<T> m_ready;
};

} // namespace eventstreamrpc
} // namespace ggipc

#endif // GGIPC_EVENTSTREAMRPC_HPP
