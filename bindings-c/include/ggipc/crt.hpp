// SPDX-License-Identifier: Apache-2.0
/**
 * @file ggipc/crt.hpp
 * @brief `ggipc::crt`: the parts of `Aws::Crt` that Greengrass IPC programs use.
 *
 * ggipc does its I/O on a shared runtime inside libggipc, so the event loop group,
 * host resolver and client bootstrap below are cheap stand-ins that carry no
 * machinery: they exist so that code written against `Aws::Crt` compiles and runs
 * unchanged. `String`, `Vector` and `Optional` are the standard types.
 */
#ifndef GGIPC_CRT_HPP
#define GGIPC_CRT_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ggipc {
namespace crt {

/** Stand-in for `Aws::Crt::Allocator`; allocation uses the C++ and Rust default allocators. */
struct Allocator {};

/** Stand-in for `Aws::Crt::g_allocator`. */
inline Allocator *g_allocator = nullptr;

/** `Aws::Crt::String`: a standard string. */
using String = std::string;

/** `Aws::Crt::Vector<T>`: a standard vector. */
template <typename T>
using Vector = std::vector<T>;

/** `Aws::Crt::Optional<T>`: a standard optional. */
template <typename T>
using Optional = std::optional<T>;

/**
 * Stand-in for `Aws::Crt::JsonObject`, the type of the model's document members: it
 * holds JSON text. The library parses it when a request is sent (invalid JSON is
 * refused with `GGIPC_ERROR_KIND_INVALID_ARGUMENT`); documents received are compact
 * JSON. A default-constructed object is the empty JSON object.
 */
class JsonObject {
  public:
    JsonObject() = default;
    /** Wraps the JSON text `json` (checked when sent). */
    explicit JsonObject(const String &json) : m_json(json) {}
    /** The JSON text. */
    String WriteCompact() const { return m_json; }
    bool operator==(const JsonObject &other) const noexcept { return m_json == other.m_json; }
    bool operator!=(const JsonObject &other) const noexcept { return m_json != other.m_json; }

  private:
    String m_json = "{}";
};

/**
 * Stand-in for `Aws::Crt::ApiHandle`. Nothing needs initialising: the library's
 * runtime is created on first use. Keeping one alive for the program's lifetime,
 * as SDK programs do, is harmless.
 */
class ApiHandle {
  public:
    explicit ApiHandle(Allocator *allocator = g_allocator) noexcept { (void)allocator; }
    ApiHandle(const ApiHandle &) = delete;
    ApiHandle &operator=(const ApiHandle &) = delete;
};

namespace Io {

/** Stand-in for `Aws::Crt::Io::EventLoopGroup`; the thread count is ignored. */
class EventLoopGroup {
  public:
    explicit EventLoopGroup(uint16_t threadCount = 0, Allocator *allocator = g_allocator) noexcept {
        (void)threadCount;
        (void)allocator;
    }
    EventLoopGroup(const EventLoopGroup &) = delete;
    EventLoopGroup &operator=(const EventLoopGroup &) = delete;
    /** Always true: there is nothing that could fail. */
    explicit operator bool() const noexcept { return true; }
    int LastError() const noexcept { return 0; }
};

/** Stand-in for `Aws::Crt::Io::DefaultHostResolver`; IPC uses a Unix socket, no DNS. */
class DefaultHostResolver {
  public:
    DefaultHostResolver(EventLoopGroup &elGroup, size_t maxHosts, size_t maxTTL,
                        Allocator *allocator = g_allocator) noexcept {
        (void)elGroup;
        (void)maxHosts;
        (void)maxTTL;
        (void)allocator;
    }
    DefaultHostResolver(const DefaultHostResolver &) = delete;
    DefaultHostResolver &operator=(const DefaultHostResolver &) = delete;
    explicit operator bool() const noexcept { return true; }
    int LastError() const noexcept { return 0; }
};

/** Stand-in for `Aws::Crt::Io::ClientBootstrap`. */
class ClientBootstrap {
  public:
    ClientBootstrap(EventLoopGroup &elGroup, DefaultHostResolver &resolver,
                    Allocator *allocator = g_allocator) noexcept {
        (void)elGroup;
        (void)resolver;
        (void)allocator;
    }
    ClientBootstrap(const ClientBootstrap &) = delete;
    ClientBootstrap &operator=(const ClientBootstrap &) = delete;
    explicit operator bool() const noexcept { return true; }
    int LastError() const noexcept { return 0; }
};

} // namespace Io
} // namespace crt
} // namespace ggipc

#endif // GGIPC_CRT_HPP
