// SPDX-License-Identifier: Apache-2.0
// GoogleTest suite of ggipc::testing::LocalNucleus beyond the MQTT proxy: its options, and the lifecycle and
// configuration events a component's tests need (reported state, validation, component updates), driven
// through the C++ SDK surface as a component under test would use it. Needs nothing running.
#include <ggipc/greengrass.hpp>
#include <ggipc/testing.hpp>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

using namespace ggipc::crt;
using namespace ggipc::greengrass;
using ggipc::testing::LocalNucleus;

namespace {

constexpr const char *kComponent = "com.example.UnderTest";
constexpr auto kWait = std::chrono::seconds(10);

const char *kPolicy = R"({"aws.greengrass.ipc.mqttproxy": {"p": {"operations": ["*"], "resources": ["telemetry/#"]}}})";

/** A connected client of `nucleus` for the component under test. */
class Component : public ConnectionLifecycleHandler {
  public:
    explicit Component(const LocalNucleus &nucleus, const std::string &token = "", bool reconnect = false)
        : client(bootstrap) {
        ConnectionConfig config;
        config.SetSocketPath(nucleus.socketPath().c_str());
        config.SetAuthToken(token.empty() ? nucleus.token().c_str() : token.c_str());
        config.SetOperationTimeout(std::chrono::milliseconds(5000));
        config.SetReconnect(reconnect);
        connected = static_cast<bool>(client.Connect(*this, config).get());
    }
    ~Component() override { client.Close(); }

    Io::EventLoopGroup loop{1};
    Io::DefaultHostResolver resolver{loop, 1, 5};
    Io::ClientBootstrap bootstrap{loop, resolver};
    GreengrassCoreIpcClient client;
    bool connected = false;
};

/** Strings seen by a handler, waited for with a deadline. */
class Seen {
  public:
    void Add(std::string s) {
        std::lock_guard<std::mutex> lock(mu_);
        items_.push_back(std::move(s));
        cv_.notify_all();
    }
    bool WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, kWait, [&] { return items_.size() >= n; });
    }
    std::string At(size_t i) {
        std::lock_guard<std::mutex> lock(mu_);
        return i < items_.size() ? items_[i] : std::string();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> items_;
};

template <typename Operation, typename Request>
bool Succeeds(Operation &operation, const Request &request) {
    operation.Activate(request, nullptr).wait();
    auto result = operation.GetResult();
    if (result.wait_for(kWait) != std::future_status::ready) return false;
    return static_cast<bool>(result.get());
}

TEST(LocalNucleusOptions, SpoolConfigurationPayloadLimitAndOfflineSubscribeTimeout) {
    ggipc::testing::Options options;
    options.maxPayloadBytes = 16;
    options.keepQos0WhenOffline = true;
    options.spoolMaxBytes = 40;
    options.offlineSubscribeTimeout = std::chrono::milliseconds(200);
    options.configurationJson = R"({"interval": 5})";
    LocalNucleus nucleus(kComponent, kPolicy, options);
    EXPECT_EQ(nucleus.configuration(kComponent).value_or(""), R"({"interval":5})");
    EXPECT_FALSE(nucleus.configuration("com.example.Unknown").has_value());

    Component c(nucleus);
    ASSERT_TRUE(c.connected);
    auto publish = [&](const std::string &payload, QOS qos) {
        PublishToIoTCoreRequest request;
        request.SetTopicName("telemetry/t");
        request.SetPayload(Vector<uint8_t>(payload.begin(), payload.end()));
        request.SetQos(qos);
        auto operation = c.client.NewPublishToIoTCore();
        return Succeeds(operation, request);
    };
    EXPECT_FALSE(publish(std::string(17, 'x'), QOS_AT_MOST_ONCE));  // over maxPayloadBytes
    EXPECT_TRUE(publish(std::string(16, 'x'), QOS_AT_MOST_ONCE));

    nucleus.setConnected(false);
    EXPECT_FALSE(nucleus.isConnected());
    // keepQos0WhenOffline: a QoS 0 publish is spooled, not refused.
    EXPECT_TRUE(publish("q0-a", QOS_AT_MOST_ONCE));
    EXPECT_EQ(nucleus.spooledCount(), 1u);
    // The 40-byte spool is full after a few messages: QoS 0 ones are evicted first to make room.
    for (int i = 0; i < 12; i++) publish("q1-" + std::to_string(i), QOS_AT_LEAST_ONCE);
    EXPECT_GE(nucleus.spoolEvicted(), 1u);
    EXPECT_LT(nucleus.spooledCount(), 13u);

    // A subscription during the outage fails once the 200 ms offline timeout is over.
    class Ignore : public SubscribeToIoTCoreStreamHandler {
    } ignore;
    SubscribeToIoTCoreRequest subscribe;
    subscribe.SetTopicName("telemetry/in");
    subscribe.SetQos(QOS_AT_LEAST_ONCE);
    auto start = std::chrono::steady_clock::now();
    auto operation = c.client.NewSubscribeToIoTCore(ignore);
    EXPECT_FALSE(Succeeds(operation, subscribe));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    nucleus.setConnected(true);
}

TEST(LocalNucleusOptions, RefusedSettingsThrowWithTheLibrarysMessage) {
    auto expectRefused = [](const ggipc::testing::Options &options, const std::string &text) {
        try {
            LocalNucleus n(kComponent, kPolicy, options);
            ADD_FAILURE() << "the options must be refused (" << text << ")";
        } catch (const ggipc::testing::Error &e) {
            EXPECT_EQ(e.kind(), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    };
    ggipc::testing::Options notAnObject;
    notAnObject.configurationJson = "[1]";
    expectRefused(notAnObject, "JSON object");
    ggipc::testing::Options negative;
    negative.offlineSubscribeTimeout = std::chrono::milliseconds(-1);
    expectRefused(negative, "offline subscribe timeout");
}

TEST(LocalNucleusLifecycle, ReportedStateIsWhatTheComponentSent) {
    LocalNucleus nucleus(kComponent, kPolicy);
    EXPECT_FALSE(nucleus.reportedState(kComponent).has_value());
    Component c(nucleus);
    ASSERT_TRUE(c.connected);
    UpdateStateRequest request;
    request.SetState(REPORTED_LIFECYCLE_STATE_ERRORED);
    auto operation = c.client.NewUpdateState();
    ASSERT_TRUE(Succeeds(operation, request));
    EXPECT_EQ(nucleus.reportedState(kComponent), REPORTED_LIFECYCLE_STATE_ERRORED);
}

/** Answers each validation event: REJECTED with the interval it saw, or nothing when `silent`. */
class Validator : public SubscribeToValidateConfigurationUpdatesStreamHandler {
  public:
    Validator(GreengrassCoreIpcClient &client, bool silent) : client_(client), silent_(silent) {}
    void OnStreamEvent(ValidateConfigurationUpdateEvents *events) override {
        auto event = events->GetValidateConfigurationUpdateEvent();
        if (!event.has_value()) return;
        std::string id = event->GetDeploymentId().value_or("").c_str();
        seen.Add(id);
        if (silent_) return;
        ConfigurationValidityReport report;
        report.SetDeploymentId(id.c_str());
        report.SetStatus(CONFIGURATION_VALIDITY_STATUS_REJECTED);
        report.SetMessage("interval too short");
        SendConfigurationValidityReportRequest request;
        request.SetConfigurationValidityReport(report);
        auto operation = client_.NewSendConfigurationValidityReport();
        Succeeds(operation, request);
    }
    Seen seen;

  private:
    GreengrassCoreIpcClient &client_;
    bool silent_;
};

TEST(LocalNucleusLifecycle, ValidationEventsReachTheComponentAndItsReportComesBack) {
    LocalNucleus nucleus(kComponent, kPolicy);
    nucleus.addComponent("com.example.Other", "", "OTHERTOKEN");
    // A component with no validation stream validates nothing.
    EXPECT_FALSE(nucleus.validateConfiguration("com.example.Other", "d0", R"({"interval": 1})").has_value());

    Component c(nucleus);
    ASSERT_TRUE(c.connected);
    Validator validator(c.client, false);
    auto operation = c.client.NewSubscribeToValidateConfigurationUpdates(validator);
    ASSERT_TRUE(Succeeds(operation, SubscribeToValidateConfigurationUpdatesRequest()));
    auto report = nucleus.validateConfiguration(kComponent, "d1", R"({"interval": 1})");
    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->GetStatus(), CONFIGURATION_VALIDITY_STATUS_REJECTED);
    EXPECT_EQ(report->GetMessage().value_or(""), "interval too short");
    EXPECT_EQ(report->GetDeploymentId().value_or(""), "d1");
    EXPECT_EQ(validator.seen.At(0), "d1");
}

TEST(LocalNucleusLifecycle, AValidatorThatNeverAnswersIsATimeoutNotAHang) {
    LocalNucleus nucleus(kComponent, kPolicy);
    Component c(nucleus);
    ASSERT_TRUE(c.connected);
    Validator silent(c.client, true);
    auto operation = c.client.NewSubscribeToValidateConfigurationUpdates(silent);
    ASSERT_TRUE(Succeeds(operation, SubscribeToValidateConfigurationUpdatesRequest()));
    try {
        nucleus.validateConfiguration(kComponent, "d2", "{}", std::chrono::milliseconds(300));
        FAIL() << "no report was sent";
    } catch (const ggipc::testing::Error &e) {
        EXPECT_EQ(e.kind(), GGIPC_ERROR_KIND_TIMEOUT) << e.what();
    }
    ASSERT_TRUE(silent.seen.WaitFor(1));  // the event did arrive
}

/** Defers every pre-update event by a second and records post-update events. */
class Updates : public SubscribeToComponentUpdatesStreamHandler {
  public:
    explicit Updates(GreengrassCoreIpcClient &client) : client_(client) {}
    void OnStreamEvent(ComponentUpdatePolicyEvents *events) override {
        if (auto pre = events->GetPreUpdateEvent()) {
            DeferComponentUpdateRequest request;
            request.SetDeploymentId(pre->GetDeploymentId().value_or(""));
            request.SetMessage("busy");
            request.SetRecheckAfterMs(1000);
            auto operation = client_.NewDeferComponentUpdate();
            Succeeds(operation, request);
        }
        if (auto post = events->GetPostUpdateEvent()) post_.Add(post->GetDeploymentId().value_or("").c_str());
    }
    Seen post_;

  private:
    GreengrassCoreIpcClient &client_;
};

TEST(LocalNucleusLifecycle, ComponentUpdatesCanBeDeferredAndTheUpdateIsAnnounced) {
    LocalNucleus nucleus(kComponent, kPolicy);
    // Nobody subscribed: nobody defers.
    EXPECT_TRUE(nucleus.preComponentUpdate("d0", false, std::chrono::milliseconds(50)).empty());
    Component c(nucleus);
    ASSERT_TRUE(c.connected);
    Updates updates(c.client);
    auto operation = c.client.NewSubscribeToComponentUpdates(updates);
    ASSERT_TRUE(Succeeds(operation, SubscribeToComponentUpdatesRequest()));
    auto deferrals = nucleus.preComponentUpdate("d3", false, std::chrono::milliseconds(1500));
    ASSERT_EQ(deferrals.size(), 1u);
    EXPECT_EQ(deferrals[0].component, kComponent);
    EXPECT_EQ(deferrals[0].request.GetDeploymentId().value_or(""), "d3");
    EXPECT_EQ(deferrals[0].request.GetMessage().value_or(""), "busy");
    EXPECT_EQ(deferrals[0].request.GetRecheckAfterMs().value_or(0), 1000);
    nucleus.postComponentUpdate("d3");
    ASSERT_TRUE(updates.post_.WaitFor(1));
    EXPECT_EQ(updates.post_.At(0), "d3");
}

}  // namespace

namespace {

// Local pub/sub under failure: a 10 MB+ message, and a nucleus restart under a reconnecting subscriber.

const char *kPubSub = R"({"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}}})";

/** Records each binary local message as "<text>@<topic>". */
class LocalInbox : public SubscribeToTopicStreamHandler {
  public:
    void OnStreamEvent(SubscriptionResponseMessage *m) override {
        auto b = m->GetBinaryMessage();
        if (!b.has_value()) return;
        auto bytes = b.value().GetMessage().value_or(Vector<uint8_t>());
        std::string topic = b.value().GetContext().has_value() ? b.value().GetContext().value().GetTopic().value_or("") : "";
        {
            std::lock_guard<std::mutex> lock(mu);
            last = bytes;
        }
        seen.Add(std::string(bytes.begin(), bytes.end()).substr(0, 64) + "@" + topic);
    }
    bool OnStreamError(OperationError *) override { return false; }  // keep the stream across a reconnect
    Seen seen;
    std::mutex mu;
    Vector<uint8_t> last;
};

PublishToTopicRequest BinaryPublish(const std::string &topic, const Vector<uint8_t> &bytes) {
    BinaryMessage b;
    b.SetMessage(bytes);
    PublishMessage m;
    m.SetBinaryMessage(b);
    PublishToTopicRequest r;
    r.SetTopic(topic.c_str());
    r.SetPublishMessage(m);
    return r;
}

Vector<uint8_t> Bytes(const std::string &s) { return Vector<uint8_t>(s.begin(), s.end()); }

TEST(LocalPubSubFailures, ATenMegabyteMessageIsDeliveredIntactAndOnePastTheFrameLimitIsRefused) {
    LocalNucleus nucleus("com.example.Pub", kPubSub);
    nucleus.addComponent("com.example.Sub", kPubSub, "SUBTOKEN00000001");
    Component pub(nucleus);
    Component sub(nucleus, "SUBTOKEN00000001");
    ASSERT_TRUE(pub.connected && sub.connected);
    LocalInbox inbox;
    auto subscription = sub.client.NewSubscribeToTopic(inbox);
    SubscribeToTopicRequest request;
    request.SetTopic("big");
    ASSERT_TRUE(Succeeds(subscription, request));

    Vector<uint8_t> bytes(10 * 1024 * 1024 + 1);
    for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<uint8_t>(i % 251);
    auto publish = pub.client.NewPublishToTopic();
    ASSERT_TRUE(Succeeds(publish, BinaryPublish("big", bytes)));
    ASSERT_TRUE(inbox.seen.WaitFor(1));
    {
        std::lock_guard<std::mutex> lock(inbox.mu);
        EXPECT_TRUE(inbox.last == bytes) << "the 10 MB message changed on the way";
    }

    // 20 MiB is a 26.7 MiB frame, past the event stream's 24 MiB limit: refused, and the client goes on.
    auto tooBig = pub.client.NewPublishToTopic();
    EXPECT_FALSE(Succeeds(tooBig, BinaryPublish("big", Vector<uint8_t>(20 * 1024 * 1024, 7))));
    auto after = pub.client.NewPublishToTopic();
    ASSERT_TRUE(Succeeds(after, BinaryPublish("big", Bytes("after"))));
    ASSERT_TRUE(inbox.seen.WaitFor(2));
    EXPECT_EQ(inbox.seen.At(1), "after@big");
}

TEST(LocalPubSubFailures, AReconnectingSubscriberResubscribesAfterARestart) {
    LocalNucleus nucleus(kComponent, kPubSub);
    Component c(nucleus, "", /*reconnect=*/true);
    ASSERT_TRUE(c.connected);
    LocalInbox inbox;
    auto subscription = c.client.NewSubscribeToTopic(inbox);
    SubscribeToTopicRequest request;
    request.SetTopic("restart/+");
    ASSERT_TRUE(Succeeds(subscription, request));
    nucleus.waitForLocalSubscription("restart/+");
    EXPECT_EQ(nucleus.publishLocal("restart/a", "before"), 1u);
    ASSERT_TRUE(inbox.seen.WaitFor(1));
    EXPECT_EQ(inbox.seen.At(0), "before@restart/a");

    nucleus.restart();
    nucleus.waitForLocalSubscription("restart/+", std::chrono::seconds(15));
    EXPECT_EQ(nucleus.publishLocal("restart/b", "after"), 1u);
    ASSERT_TRUE(inbox.seen.WaitFor(2));
    EXPECT_EQ(inbox.seen.At(1), "after@restart/b");
}

}  // namespace
