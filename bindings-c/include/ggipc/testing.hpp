/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ggipc/testing.hpp
 * @brief ggipc::testing::LocalNucleus: an in-process nucleus for C++ tests (GoogleTest or any other),
 *        an RAII class over the C API's ggipc_test_nucleus_* functions.
 *
 * @code
 * #include <ggipc/testing.hpp>
 *
 * TEST(Forwarder, ForwardsCommands) {
 *     ggipc::testing::LocalNucleus nucleus("com.example.Forwarder", R"({"aws.greengrass.ipc.mqttproxy":
 *         {"p": {"operations": ["*"], "resources": ["commands/#", "telemetry/#"]}}})");
 *     nucleus.setEnv();                       // the SDK's connect() now finds this nucleus
 *     runForwarderInBackground();
 *     nucleus.waitForSubscription("commands/#");
 *     nucleus.inject("commands/go", "go");
 *     EXPECT_EQ(nucleus.waitForPublish("telemetry/#").payload, "go");
 * }
 * @endcode
 *
 * Every failure throws ggipc::testing::Error (a std::runtime_error) carrying the C error kind and the
 * library's message, so a misused harness (a wait nobody satisfies, an unregistered component) fails
 * the test with a message saying what happened instead. Every wait has a timeout.
 */
#ifndef GGIPC_TESTING_HPP
#define GGIPC_TESTING_HPP

#include <ggipc.h>
#include <ggipc/model.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ggipc {
namespace testing {

/** A failure of the test nucleus: the C error's kind (GGIPC_ERROR_KIND_*) and message. */
class Error : public std::runtime_error {
  public:
    Error(ggipc_error_kind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
    /** The GGIPC_ERROR_KIND_* number (e.g. GGIPC_ERROR_KIND_TIMEOUT for a wait that timed out). */
    ggipc_error_kind kind() const noexcept { return kind_; }

  private:
    ggipc_error_kind kind_;
};

namespace detail {
/** Throws the error `e` (taking ownership) if it is not NULL. */
inline void check(ggipc_error *e) {
    if (e == nullptr) return;
    ggipc_error_kind kind = ggipc_error_get_kind(e);
    std::string message = ggipc_error_get_message(e);
    ggipc_error_free(e);
    throw Error(kind, message);
}
inline const char *opt(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }
inline uint64_t millis(std::chrono::milliseconds t) { return t.count() < 0 ? 0 : static_cast<uint64_t>(t.count()); }
}  // namespace detail

/** A message the code under test published to "AWS IoT Core". */
struct Published {
    std::string topic;
    /** The payload bytes. */
    std::string payload;
};

/** Settings of a LocalNucleus beyond its component and policy; every member empty = the default. */
struct Options {
    /** Largest publish payload accepted, in bytes (default IoT Core's 131 072). */
    std::optional<size_t> maxPayloadBytes;
    /** Authorize subscribe filters literally, as the Java nucleus does (default false: strictly). */
    std::optional<bool> literalFilterAuthorization;
    /** Record publishes (default true; false for soak runs: waits then see counts only). */
    std::optional<bool> record;
    /** Bytes the spool holds during a broker outage (default 2.5 MiB). */
    std::optional<size_t> spoolMaxBytes;
    /** Spool QoS 0 publishes during an outage instead of refusing them (default false). */
    std::optional<bool> keepQos0WhenOffline;
    /** How long a subscription made during an outage waits for the connection (default 30 s). */
    std::optional<std::chrono::milliseconds> offlineSubscribeTimeout;
    /** The component under test's configuration, the text of a JSON object (default `{}`). */
    std::optional<std::string> configurationJson;
};

/** A DeferComponentUpdate request a simulated deployment received. */
struct Deferral {
    /** The component that deferred. */
    std::string component;
    /** Its request (deployment id, message, recheck interval). */
    ggipc::greengrass::DeferComponentUpdateRequest request;
};

/**
 * An in-process nucleus serving one component under test. Move-only; the destructor stops it.
 * Thread-safe: the methods may be called from any thread.
 */
class LocalNucleus {
  public:
    /**
     * Starts a nucleus for `component` with its `accessControl` policy as JSON (empty: no policy, every
     * IoT Core request refused). `socketPath` empty: a private temporary directory; `token` empty: a
     * fresh SVCUID. Throws Error (e.g. GGIPC_ERROR_KIND_INVALID_ARGUMENT for a bad policy).
     */
    explicit LocalNucleus(const std::string &component, const std::string &accessControlJson = "",
                          const std::string &socketPath = "", const std::string &token = "") {
        ggipc_test_nucleus *n = nullptr;
        detail::check(ggipc_test_nucleus_start(component.c_str(), detail::opt(accessControlJson),
                                               detail::opt(socketPath), detail::opt(token), &n));
        n_.reset(n);
    }

    /** As above, with `options`. Throws Error (also for a setting the library refuses, e.g. a configuration that is not a JSON object). */
    LocalNucleus(const std::string &component, const std::string &accessControlJson, const Options &options,
                 const std::string &socketPath = "", const std::string &token = "") {
        struct FreeOptions {
            void operator()(ggipc_test_nucleus_options *o) const noexcept { ggipc_test_nucleus_options_free(o); }
        };
        std::unique_ptr<ggipc_test_nucleus_options, FreeOptions> o(ggipc_test_nucleus_options_new());
        if (!o) throw std::bad_alloc();
        if (options.maxPayloadBytes)
            detail::check(ggipc_test_nucleus_options_set_max_payload_bytes(o.get(), *options.maxPayloadBytes));
        if (options.literalFilterAuthorization)
            detail::check(ggipc_test_nucleus_options_set_literal_filter_authorization(
                o.get(), *options.literalFilterAuthorization));
        if (options.record) detail::check(ggipc_test_nucleus_options_set_record(o.get(), *options.record));
        if (options.spoolMaxBytes)
            detail::check(ggipc_test_nucleus_options_set_spool_max_bytes(o.get(), *options.spoolMaxBytes));
        if (options.keepQos0WhenOffline)
            detail::check(ggipc_test_nucleus_options_set_keep_qos0_when_offline(o.get(), *options.keepQos0WhenOffline));
        if (options.offlineSubscribeTimeout)
            detail::check(ggipc_test_nucleus_options_set_offline_subscribe_timeout_ms(
                o.get(), static_cast<int64_t>(options.offlineSubscribeTimeout->count())));
        if (options.configurationJson)
            detail::check(ggipc_test_nucleus_options_set_configuration(o.get(), options.configurationJson->c_str()));
        ggipc_test_nucleus *n = nullptr;
        detail::check(ggipc_test_nucleus_start_with_options(component.c_str(), detail::opt(accessControlJson),
                                                            detail::opt(socketPath), detail::opt(token), o.get(), &n));
        n_.reset(n);
    }

    LocalNucleus(LocalNucleus &&) noexcept = default;
    LocalNucleus &operator=(LocalNucleus &&) noexcept = default;
    LocalNucleus(const LocalNucleus &) = delete;
    LocalNucleus &operator=(const LocalNucleus &) = delete;

    /** The IPC socket's path. */
    std::string socketPath() const { return ggipc_test_nucleus_socket_path(get()); }
    /** The component under test's SVCUID (unchanged by restarts). */
    std::string token() const { return ggipc_test_nucleus_token(get()); }

    /**
     * Sets AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT and SVCUID for `component` (empty: the
     * component under test) in this process's environment. Call it before other threads use the
     * environment.
     */
    void setEnv(const std::string &component = "") const {
        detail::check(ggipc_test_nucleus_setenv(get(), detail::opt(component)));
    }

    /** Registers another component with its policy (empty: none) and SVCUID `token`. */
    void addComponent(const std::string &component, const std::string &accessControlJson, const std::string &token) const {
        detail::check(ggipc_test_nucleus_add_component(get(), component.c_str(), detail::opt(accessControlJson),
                                                       token.c_str()));
    }

    /** Replaces a component's policy (empty: none); the next request is authorized against it. */
    void setPolicy(const std::string &component, const std::string &accessControlJson) const {
        detail::check(ggipc_test_nucleus_set_policy(get(), component.c_str(), detail::opt(accessControlJson)));
    }

    /** Publishes to topics matching `topicFilter` (empty: all) fail with `message` (ServiceError). */
    void failPublishes(const std::string &message, const std::string &topicFilter = "") const {
        detail::check(ggipc_test_nucleus_fail_publishes(get(), detail::opt(topicFilter), message.c_str()));
    }
    /** Ends failPublishes(). */
    void stopFailingPublishes() const { detail::check(ggipc_test_nucleus_fail_publishes(get(), nullptr, nullptr)); }

    /** New subscriptions whose filter `topicFilter` matches (empty: all) fail with `message`. */
    void failSubscriptions(const std::string &message, const std::string &topicFilter = "") const {
        detail::check(ggipc_test_nucleus_fail_subscriptions(get(), detail::opt(topicFilter), message.c_str()));
    }
    /** Ends failSubscriptions(). */
    void stopFailingSubscriptions() const {
        detail::check(ggipc_test_nucleus_fail_subscriptions(get(), nullptr, nullptr));
    }

    /**
     * Waits until `count` publishes match `topicFilter` (a topic or MQTT filter; empty: any) and returns
     * the last. Throws Error with GGIPC_ERROR_KIND_TIMEOUT, saying what was published instead.
     */
    Published waitForPublish(const std::string &topicFilter = "", size_t count = 1,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        ggipc_message *m = nullptr;
        detail::check(ggipc_test_nucleus_wait_for_publish(get(), detail::opt(topicFilter), count,
                                                          detail::millis(timeout), &m));
        Published p;
        if (m != nullptr) {
            const char *topic = ggipc_message_get_topic(m);
            p.topic = topic ? topic : "";
            size_t len = 0;
            const uint8_t *payload = ggipc_message_get_payload(m, &len);
            if (payload != nullptr) p.payload.assign(reinterpret_cast<const char *>(payload), len);
            ggipc_message_free(m);
        }
        return p;
    }

    /** Publishes that reached "IoT Core" so far. */
    uint64_t publishedCount() const { return ggipc_test_nucleus_published_count(get()); }
    /** Forgets the recorded publishes. */
    void clearPublished() const { detail::check(ggipc_test_nucleus_clear_published(get())); }

    /** Waits until a subscription to exactly `topicFilter` (empty: any) exists; throws on timeout. */
    void waitForSubscription(const std::string &topicFilter = "",
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        detail::check(
            ggipc_test_nucleus_wait_for_subscription(get(), detail::opt(topicFilter), detail::millis(timeout)));
    }

    /** Delivers a message "from AWS IoT Core"; returns how many subscriptions took it. */
    size_t inject(const std::string &topic, const std::string &payload) const {
        size_t delivered = 0;
        detail::check(ggipc_test_nucleus_inject(get(), topic.c_str(), reinterpret_cast<const uint8_t *>(payload.data()),
                                                payload.size(), &delivered));
        return delivered;
    }

    /** Simulates the connection to AWS IoT Core going down (false) or coming back (true). */
    void setConnected(bool connected) const { detail::check(ggipc_test_nucleus_set_connected(get(), connected)); }
    /** Publishes held in the spool during an outage. */
    size_t spooledCount() const { return ggipc_test_nucleus_spooled_count(get()); }

    /** Whether the simulated connection to AWS IoT Core is up. */
    bool isConnected() const { return ggipc_test_nucleus_is_connected(get()); }
    /** Spooled publishes evicted to make room during outages (QoS 0 first). */
    uint64_t spoolEvicted() const { return ggipc_test_nucleus_spool_evicted(get()); }

    /** Restarts under its clients: same socket, components, tokens, policies, configurations. */
    void restart() const { detail::check(ggipc_test_nucleus_restart(get())); }
    /** Stops serving (the destructor does it too). */
    void stop() const { detail::check(ggipc_test_nucleus_stop(get())); }

    /** Replaces a component's configuration (JSON). */
    void setConfiguration(const std::string &component, const std::string &configurationJson) const {
        detail::check(ggipc_test_nucleus_set_configuration(get(), component.c_str(), configurationJson.c_str()));
    }

    /** Merges the JSON object `valueJson` at `keyPath` and tells SubscribeToConfigurationUpdate streams. */
    void updateConfiguration(const std::string &component, const std::vector<std::string> &keyPath,
                             const std::string &valueJson) const {
        std::vector<const char *> path;
        for (const auto &k : keyPath) path.push_back(k.c_str());
        detail::check(ggipc_test_nucleus_update_configuration(get(), component.c_str(), path.data(), path.size(),
                                                              valueJson.c_str()));
    }

    /** A component's configuration as the text of a JSON object; empty if it has none. */
    std::optional<std::string> configuration(const std::string &component) const {
        char *text = nullptr;
        detail::check(ggipc_test_nucleus_configuration(get(), component.c_str(), &text));
        if (text == nullptr) return std::nullopt;
        std::string result(text);
        ggipc_test_nucleus_string_free(text);
        return result;
    }

    /** The state `component` last reported with UpdateState; empty if it reported none. */
    std::optional<ggipc::greengrass::ReportedLifecycleState> reportedState(const std::string &component) const {
        ggipc_reported_lifecycle_state state{};
        if (!ggipc_test_nucleus_reported_state(get(), component.c_str(), &state)) return std::nullopt;
        return static_cast<ggipc::greengrass::ReportedLifecycleState>(state);
    }

    /**
     * Sends `component`'s SubscribeToValidateConfigurationUpdates streams a validation event for
     * `configurationJson` and waits up to `timeout` for its SendConfigurationValidityReport. Empty when the
     * component validates nothing; throws Error (GGIPC_ERROR_KIND_TIMEOUT) when no report came in time.
     */
    std::optional<ggipc::greengrass::ConfigurationValidityReport> validateConfiguration(
        const std::string &component, const std::string &deploymentId, const std::string &configurationJson,
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        ggipc_configuration_validity_report *r = nullptr;
        detail::check(ggipc_test_nucleus_validate_configuration(get(), component.c_str(), deploymentId.c_str(),
                                                                configurationJson.c_str(), detail::millis(timeout), &r));
        if (r == nullptr) return std::nullopt;
        auto report = ggipc::greengrass::ConfigurationValidityReport::FromC(r);
        ggipc_configuration_validity_report_free(r);
        return report;
    }

    /**
     * Tells every SubscribeToComponentUpdates stream that `deploymentId` is about to update components and
     * returns the DeferComponentUpdate requests that arrived within `timeout` (it waits the whole time).
     */
    std::vector<Deferral> preComponentUpdate(const std::string &deploymentId, bool isGgcRestarting = false,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(1)) const {
        ggipc_test_deferrals *d = nullptr;
        detail::check(ggipc_test_nucleus_pre_component_update(get(), deploymentId.c_str(), isGgcRestarting,
                                                              detail::millis(timeout), &d));
        std::vector<Deferral> result;
        for (size_t i = 0; i < ggipc_test_deferrals_len(d); i++) {
            const char *component = ggipc_test_deferrals_component(d, i);
            result.push_back({component ? component : "",
                              ggipc::greengrass::DeferComponentUpdateRequest::FromC(ggipc_test_deferrals_request(d, i))});
        }
        ggipc_test_deferrals_free(d);
        return result;
    }

    /** Tells every SubscribeToComponentUpdates stream that `deploymentId` updated components. */
    void postComponentUpdate(const std::string &deploymentId) const {
        detail::check(ggipc_test_nucleus_post_component_update(get(), deploymentId.c_str()));
    }

    /** Local (SubscribeToTopic) subscriptions open now. */
    size_t localSubscriptionCount() const { return ggipc_test_nucleus_local_subscription_count(get()); }

    /** Publishes a local binary message on `topic`; returns how many subscriptions took it. */
    size_t publishLocal(const std::string &topic, const std::string &payload, const std::string &publisher = "") const {
        return publishLocalImpl(topic, payload, false, publisher);
    }
    /** Publishes a local JSON message (the text of a JSON object) on `topic`. */
    size_t publishLocalJson(const std::string &topic, const std::string &json, const std::string &publisher = "") const {
        return publishLocalImpl(topic, json, true, publisher);
    }
    /** Waits until a local subscription to exactly `topicFilter` (empty: any) exists; throws on timeout. */
    void waitForLocalSubscription(const std::string &topicFilter = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        detail::check(ggipc_test_nucleus_wait_for_local_subscription(get(), detail::opt(topicFilter),
                                                                     detail::millis(timeout)));
    }

    /** The C handle (owned by this object). */
    ggipc_test_nucleus *get() const noexcept { return n_.get(); }

  private:
    size_t publishLocalImpl(const std::string &topic, const std::string &payload, bool json,
                            const std::string &publisher) const {
        size_t delivered = 0;
        detail::check(ggipc_test_nucleus_publish_local(get(), detail::opt(publisher), topic.c_str(),
                                                       reinterpret_cast<const uint8_t *>(payload.data()),
                                                       payload.size(), json, &delivered));
        return delivered;
    }
    struct Free {
        void operator()(ggipc_test_nucleus *n) const noexcept { ggipc_test_nucleus_free(n); }
    };
    std::unique_ptr<ggipc_test_nucleus, Free> n_;
};

}  // namespace testing
}  // namespace ggipc

#endif  // GGIPC_TESTING_HPP
