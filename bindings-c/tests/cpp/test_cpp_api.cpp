// SPDX-License-Identifier: Apache-2.0
// GoogleTest suite of the C++ SDK surface (ggipc::crt / ggipc::greengrass) against a running
// test server. Environment: GGIPC_TEST_SOCKET = the server's socket path.
#include <ggipc/greengrass.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

namespace {

constexpr const char *kToken = "GGIPCTESTTOKEN01";
constexpr auto kWait = std::chrono::seconds(10);

ConnectionConfig Config(const char *token = kToken) {
    ConnectionConfig config;
    const char *socket = std::getenv("GGIPC_TEST_SOCKET");
    config.SetSocketPath(socket != nullptr ? socket : "");
    config.SetAuthToken(token);
    config.SetOperationTimeout(std::chrono::milliseconds(5000));
    return config;
}

/** Counts events and lets a test wait for a count, with a deadline. */
class Events {
  public:
    void Add(std::string what = {}) {
        std::lock_guard<std::mutex> lock(m_mu);
        m_items.push_back(std::move(what));
        m_cv.notify_all();
    }
    bool WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(m_mu);
        return m_cv.wait_for(lock, kWait, [&] { return m_items.size() >= n; });
    }
    size_t Count() {
        std::lock_guard<std::mutex> lock(m_mu);
        return m_items.size();
    }
    std::string At(size_t i) {
        std::lock_guard<std::mutex> lock(m_mu);
        return i < m_items.size() ? m_items[i] : std::string();
    }

  private:
    std::mutex m_mu;
    std::condition_variable m_cv;
    std::vector<std::string> m_items;
};

class Lifecycle : public ConnectionLifecycleHandler {
  public:
    Events connected;
    Events disconnected;
    void OnConnectCallback() override { connected.Add(); }
    void OnDisconnectCallback(RpcError error) override { disconnected.Add(error.StatusToString()); }
    bool OnErrorCallback(RpcError) override { return true; }
};

class Recorder : public SubscribeToIoTCoreStreamHandler {
  public:
    Events messages;
    Events errors;
    Events closed;
    std::function<void(IoTCoreMessage *)> onEvent;
    void OnStreamEvent(IoTCoreMessage *response) override {
        auto message = response->GetMessage();
        std::string text;
        if (message.has_value() && message.value().GetPayload().has_value()) {
            auto bytes = message.value().GetPayload().value();
            text.assign(bytes.begin(), bytes.end());
        }
        if (onEvent) {
            onEvent(response);
        }
        messages.Add(text);
    }
    bool OnStreamError(OperationError *error) override {
        errors.Add(error->GetMessage().value_or(""));
        return true;
    }
    void OnStreamClosed() override { closed.Add(); }
};

PublishToIoTCoreResult Publish(GreengrassCoreIpcClient &client, const std::string &topic, const std::string &text,
                               bool withPayload = true) {
    PublishToIoTCoreRequest request;
    request.SetTopicName(topic);
    if (withPayload) {
        request.SetPayload(Vector<uint8_t>(text.begin(), text.end()));
    }
    request.SetQos(QOS_AT_LEAST_ONCE);
    PublishToIoTCoreOperation operation = client.NewPublishToIoTCore();
    auto activate = operation.Activate(request, nullptr);
    activate.wait();
    EXPECT_TRUE(activate.get());
    auto future = operation.GetResult();
    EXPECT_EQ(future.wait_for(kWait), std::future_status::ready);
    return future.get();
}

SubscribeToIoTCoreOperation Subscribe(GreengrassCoreIpcClient &client, SubscribeToIoTCoreStreamHandler &handler,
                                      const std::string &filter, SubscribeToIoTCoreResult *result) {
    SubscribeToIoTCoreRequest request;
    request.SetTopicName(filter);
    request.SetQos(QOS_AT_MOST_ONCE);
    SubscribeToIoTCoreOperation operation = client.NewSubscribeToIoTCore(handler);
    operation.Activate(request, nullptr).wait();
    auto future = operation.GetResult();
    EXPECT_EQ(future.wait_for(kWait), std::future_status::ready);
    *result = future.get();
    return operation;
}

class CppApi : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_NE(std::getenv("GGIPC_TEST_SOCKET"), nullptr);
        auto status = client.Connect(lifecycle, Config()).get();
        ASSERT_TRUE(status) << status.StatusToString();
    }

    ApiHandle apiHandle{g_allocator};
    Io::EventLoopGroup eventLoopGroup{1};
    Io::DefaultHostResolver socketResolver{eventLoopGroup, 64, 30};
    Io::ClientBootstrap bootstrap{eventLoopGroup, socketResolver};
    Lifecycle lifecycle;
    GreengrassCoreIpcClient client{bootstrap};
};

TEST_F(CppApi, ConnectCallsOnConnect) {
    EXPECT_TRUE(lifecycle.connected.WaitFor(1));
    EXPECT_TRUE(client.IsConnected());
    auto again = client.Connect(lifecycle, Config()).get();
    EXPECT_FALSE(again);
    EXPECT_EQ(again.baseStatus, EVENT_STREAM_RPC_CONNECTION_ALREADY_ESTABLISHED);
}

TEST(CppConnect, BadTokenIsAccessDenied) {
    Io::EventLoopGroup elg(1);
    Io::DefaultHostResolver resolver(elg, 64, 30);
    Io::ClientBootstrap bootstrap(elg, resolver);
    Lifecycle lifecycle;
    GreengrassCoreIpcClient client(bootstrap);
    auto status = client.Connect(lifecycle, Config("NOT-A-TOKEN")).get();
    EXPECT_FALSE(status);
    EXPECT_EQ(status.baseStatus, EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED);
    std::ostringstream printed;
    printed << status;
    EXPECT_NE(printed.str().find("EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED"), std::string::npos);
    // Operations on a client that never connected fail cleanly, at activation and in the result.
    PublishToIoTCoreRequest request;
    request.SetTopicName("test/cpp/x");
    request.SetPayload({'x'});
    request.SetQos(QOS_AT_MOST_ONCE);
    auto operation = client.NewPublishToIoTCore();
    auto activated = operation.Activate(request).get();
    EXPECT_FALSE(activated);
    EXPECT_EQ(activated.baseStatus, EVENT_STREAM_RPC_CONNECTION_CLOSED);
    auto result = operation.GetResult().get();
    EXPECT_FALSE(result);
    EXPECT_EQ(result.GetResultType(), RPC_ERROR);
    EXPECT_EQ(result.GetRpcError().baseStatus, EVENT_STREAM_RPC_CONNECTION_CLOSED);
}

TEST_F(CppApi, PublishSucceeds) {
    auto result = Publish(client, "test/cpp/publish", "hello");
    EXPECT_TRUE(result);
    EXPECT_EQ(result.GetResultType(), OPERATION_RESPONSE);
    EXPECT_NE(result.GetOperationResponse(), nullptr);
    EXPECT_EQ(result.GetOperationError(), nullptr);
}

TEST_F(CppApi, PublishUnauthorizedIsOperationError) {
    auto result = Publish(client, "denied/topic", "hello");
    ASSERT_FALSE(result);
    ASSERT_EQ(result.GetResultType(), OPERATION_ERROR);
    auto *error = result.GetOperationError();
    ASSERT_NE(error, nullptr);
    EXPECT_NE(dynamic_cast<UnauthorizedError *>(error), nullptr);
    EXPECT_EQ(error->GetMessage().value(), "Not Authorized");
    EXPECT_EQ(error->GetModelName(), "aws.greengrass#UnauthorizedError");
}

TEST_F(CppApi, PublishWithoutPayloadIsInvalidArguments) {
    // As in the SDK, an empty payload is left out of the request; the nucleus requires one.
    auto result = Publish(client, "test/cpp/empty", "", false);
    ASSERT_EQ(result.GetResultType(), OPERATION_ERROR);
    EXPECT_NE(dynamic_cast<InvalidArgumentsError *>(result.GetOperationError()), nullptr);
    EXPECT_EQ(result.GetOperationError()->GetMessage().value(), "Payload is required");
}

TEST_F(CppApi, SubscribeReceivesMessagesWithMqtt5Fields) {
    Recorder handler;
    MQTTMessage seen;
    std::mutex seenMu;
    handler.onEvent = [&](IoTCoreMessage *m) {
        std::lock_guard<std::mutex> lock(seenMu);
        seen = m->GetMessage().value();
    };
    SubscribeToIoTCoreResult subscribed;
    auto operation = Subscribe(client, handler, "test/cpp/sub/#", &subscribed);
    ASSERT_TRUE(subscribed);

    PublishToIoTCoreRequest request;
    request.SetTopicName("test/cpp/sub/a");
    std::string text = "payload-1";
    request.SetPayload(Vector<uint8_t>(text.begin(), text.end()));
    request.SetQos(QOS_AT_MOST_ONCE);
    UserProperty property;
    property.SetKey("k");
    property.SetValue("v");
    request.SetUserProperties({property});
    request.SetCorrelationData({1, 2, 3});
    request.SetResponseTopic("test/cpp/reply");
    request.SetPayloadFormat(PAYLOAD_FORMAT_UTF8);
    request.SetMessageExpiryIntervalSeconds(30);
    auto publish = client.NewPublishToIoTCore();
    publish.Activate(request).wait();
    ASSERT_TRUE(publish.GetResult().get());

    ASSERT_TRUE(handler.messages.WaitFor(1));
    EXPECT_EQ(handler.messages.At(0), "payload-1");
    std::lock_guard<std::mutex> lock(seenMu);
    EXPECT_EQ(seen.GetTopicName().value(), "test/cpp/sub/a");
    ASSERT_TRUE(seen.GetUserProperties().has_value());
    EXPECT_EQ(seen.GetUserProperties()->at(0).GetKey().value(), "k");
    EXPECT_EQ(seen.GetCorrelationData().value(), (Vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(seen.GetResponseTopic().value(), "test/cpp/reply");
    EXPECT_EQ(seen.GetPayloadFormat().value(), PAYLOAD_FORMAT_UTF8);
    EXPECT_EQ(seen.GetMessageExpiryIntervalSeconds().value(), 30);

    operation.Close().wait();
    EXPECT_TRUE(handler.closed.WaitFor(1));
}

TEST_F(CppApi, SubscribeUnauthorizedIsOperationError) {
    Recorder handler;
    SubscribeToIoTCoreResult subscribed;
    auto operation = Subscribe(client, handler, "denied/#", &subscribed);
    ASSERT_FALSE(subscribed);
    ASSERT_EQ(subscribed.GetResultType(), OPERATION_ERROR);
    EXPECT_NE(dynamic_cast<UnauthorizedError *>(subscribed.GetOperationError()), nullptr);
    EXPECT_EQ(handler.closed.Count(), 0u);
}

TEST_F(CppApi, HandlerCanCallTheClient) {
    Recorder first;
    Recorder second;
    first.onEvent = [&](IoTCoreMessage *) {
        auto result = Publish(client, "test/cpp/second", "from handler");
        EXPECT_TRUE(result);
    };
    SubscribeToIoTCoreResult r1, r2;
    auto op2 = Subscribe(client, second, "test/cpp/second", &r2);
    auto op1 = Subscribe(client, first, "test/cpp/first", &r1);
    ASSERT_TRUE(r1);
    ASSERT_TRUE(r2);
    ASSERT_TRUE(Publish(client, "test/cpp/first", "go"));
    ASSERT_TRUE(second.messages.WaitFor(1));
    EXPECT_EQ(second.messages.At(0), "from handler");
}

TEST_F(CppApi, CloseFromInsideTheHandler) {
    Recorder handler;
    std::unique_ptr<SubscribeToIoTCoreOperation> operation;
    handler.onEvent = [&](IoTCoreMessage *) { operation->Close(); };
    SubscribeToIoTCoreResult subscribed;
    operation = std::make_unique<SubscribeToIoTCoreOperation>(Subscribe(client, handler, "test/cpp/close", &subscribed));
    ASSERT_TRUE(subscribed);
    ASSERT_TRUE(Publish(client, "test/cpp/close", "one"));
    ASSERT_TRUE(handler.closed.WaitFor(1));
    ASSERT_TRUE(Publish(client, "test/cpp/close", "two"));
    operation.reset();
    EXPECT_EQ(handler.messages.Count(), 1u);
}

TEST_F(CppApi, DestroyOperationFromInsideTheHandler) {
    auto handler = std::make_shared<Recorder>();
    std::unique_ptr<SubscribeToIoTCoreOperation> operation;
    Events destroyed;
    handler->onEvent = [&](IoTCoreMessage *) {
        operation.reset();
        destroyed.Add();
    };
    SubscribeToIoTCoreRequest request;
    request.SetTopicName("test/cpp/destroy");
    request.SetQos(QOS_AT_MOST_ONCE);
    operation = std::make_unique<SubscribeToIoTCoreOperation>(client.NewSubscribeToIoTCore(handler));
    operation->Activate(request).wait();
    ASSERT_TRUE(operation->GetResult().get());
    ASSERT_TRUE(Publish(client, "test/cpp/destroy", "one"));
    ASSERT_TRUE(destroyed.WaitFor(1));
    // The callback that destroyed its operation runs to its end (the handler outlives the operation): its
    // message is recorded after `onEvent` returns, so wait for it rather than read the count at once.
    EXPECT_TRUE(handler->messages.WaitFor(1));
    EXPECT_EQ(handler->messages.Count(), 1u);
}

TEST_F(CppApi, DestroyClientWhileStreamIsOpen) {
    Recorder handler;
    SubscribeToIoTCoreResult subscribed;
    {
        Lifecycle lc;
        Io::EventLoopGroup elg(1);
        Io::DefaultHostResolver resolver(elg, 64, 30);
        Io::ClientBootstrap bootstrap2(elg, resolver);
        auto other = std::make_unique<GreengrassCoreIpcClient>(bootstrap2);
        ASSERT_TRUE(other->Connect(lc, Config()).get());
        auto operation = Subscribe(*other, handler, "test/cpp/orphan", &subscribed);
        ASSERT_TRUE(subscribed);
        other.reset(); // the client goes first; the operation outlives it
        EXPECT_TRUE(handler.closed.WaitFor(1));
        auto after = operation.Close();
        EXPECT_TRUE(after.get());
    }
    EXPECT_EQ(handler.closed.Count(), 1u);
}

// Operations are created (each takes the client's handle) on several threads while the client is closed and
// connected again: every publish succeeds or ends as CONNECTION_CLOSED, and none crashes or hangs.
TEST_F(CppApi, OperationsMadeWhileTheClientClosesAndReconnects) {
    Lifecycle lc;
    GreengrassCoreIpcClient other{bootstrap};
    ASSERT_TRUE(other.Connect(lc, Config()).get());
    PublishToIoTCoreRequest request;
    request.SetTopicName(String("test/cpp/race"));
    request.SetQos(QOS_AT_MOST_ONCE);
    request.SetPayload(Vector<uint8_t>{'x'});

    constexpr int kThreads = 4;
    std::atomic<bool> stop{false};
    std::atomic<int> ok[kThreads] = {};
    std::atomic<int> closed[kThreads] = {};
    std::atomic<int> other_outcomes{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            while (!stop.load()) {
                PublishToIoTCoreOperation op = other.NewPublishToIoTCore();
                op.Activate(request, nullptr).wait();
                auto result = op.GetResult().get();
                if (result) {
                    ok[t]++;
                } else if (result.GetResultType() == RPC_ERROR &&
                           result.GetRpcError().baseStatus == EVENT_STREAM_RPC_CONNECTION_CLOSED) {
                    closed[t]++;
                } else {
                    other_outcomes++;
                }
            }
        });
    }
    // Waits (bounded) until every thread's counter in `counts` has reached `n`.
    auto reach = [&](std::atomic<int> *counts, int n) {
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        for (int t = 0; t < kThreads; t++) {
            while (counts[t].load() < n) {
                if (std::chrono::steady_clock::now() > deadline) {
                    return false;
                }
                std::this_thread::yield();
            }
        }
        return true;
    };
    EXPECT_TRUE(reach(ok, 20));
    other.Close();
    EXPECT_FALSE(other.IsConnected());
    EXPECT_TRUE(reach(closed, 1));
    int before[kThreads];
    for (int t = 0; t < kThreads; t++) {
        before[t] = ok[t].load();
    }
    ASSERT_TRUE(other.Connect(lc, Config()).get());
    EXPECT_TRUE(other.IsConnected());
    EXPECT_NE(other.GetCClient(), nullptr);
    bool more = true;
    for (int t = 0; t < kThreads && more; t++) {
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        while (ok[t].load() < before[t] + 20 && (more = std::chrono::steady_clock::now() < deadline)) {
            std::this_thread::yield();
        }
    }
    EXPECT_TRUE(more) << "publishes did not resume on every thread after the reconnect";
    stop = true;
    for (auto &th : threads) {
        th.join();
    }
    EXPECT_EQ(other_outcomes.load(), 0);
}

TEST_F(CppApi, OperationFutureWaitSemantics) {
    PublishToIoTCoreOperation never = client.NewPublishToIoTCore();
    auto notActivated = never.GetResult();
    EXPECT_EQ(notActivated.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
    auto r = notActivated.get();
    EXPECT_EQ(r.GetResultType(), RPC_ERROR);
    EXPECT_FALSE(notActivated.valid());

    PublishToIoTCoreRequest request;
    request.SetTopicName("test/cpp/std");
    request.SetPayload({'x'});
    request.SetQos(QOS_AT_MOST_ONCE);
    auto op = client.NewPublishToIoTCore();
    int flushed = -1;
    op.Activate(request, [&](int code) { flushed = code; }).wait();
    EXPECT_EQ(flushed, 0);
    std::future<PublishToIoTCoreResult> standard = op.GetResult().ToStdFuture();
    ASSERT_EQ(standard.wait_for(kWait), std::future_status::ready);
    EXPECT_TRUE(standard.get());

    // The result is handed out once per activation, as a std::future's: a second GetResult says so.
    auto again = op.GetResult();
    EXPECT_EQ(again.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
    auto twice = again.get();
    EXPECT_EQ(twice.GetResultType(), RPC_ERROR);
    EXPECT_EQ(twice.GetRpcError().baseStatus, EVENT_STREAM_RPC_UNINITIALIZED);
    EXPECT_NE(twice.GetRpcError().message.find("already retrieved"), std::string::npos);

    // Activate's future is ready at once and converts to the std::future the SDK returns.
    std::future<RpcError> activated = op.Activate(request);
    ASSERT_TRUE(activated.valid());
    EXPECT_EQ(activated.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
    EXPECT_TRUE(activated.get());
    // A new activation has a result of its own; a future outliving its operation still reads it.
    OperationFuture<PublishToIoTCoreResult> outlives;
    {
        auto moved = std::move(op);
        outlives = moved.GetResult();
    }
    ASSERT_EQ(outlives.wait_for(kWait), std::future_status::ready);
    EXPECT_TRUE(outlives.get());
    EXPECT_FALSE(outlives.valid());

    // The flush callback gets the activation's error code; a moved ReadyFuture leaves an invalid one.
    GreengrassCoreIpcClient offline{bootstrap};
    auto unsent = offline.NewPublishToIoTCore();
    int code = -1;
    auto failed = unsent.Activate(request, [&](int c) { code = c; });
    EXPECT_EQ(code, GGIPC_ERROR_KIND_CONNECTION_CLOSED);
    auto taken = std::move(failed);
    EXPECT_FALSE(failed.valid());
    ASSERT_TRUE(taken.valid());
    RpcError refused = taken.get();
    EXPECT_EQ(refused.baseStatus, EVENT_STREAM_RPC_CONNECTION_CLOSED);
    EXPECT_EQ(refused.message, "the client is not connected");
    EXPECT_FALSE(taken.valid());

    auto closed = client.NewPublishToIoTCore().Close();
    EXPECT_TRUE(closed.valid());
    std::shared_future<RpcError> shared = closed.share();
    EXPECT_FALSE(closed.valid());
    EXPECT_TRUE(shared.get());
}

// ---- the generated model and operations ----

TEST(CppModel, GeneratedShapesRoundTripThroughTheirCHandles) {
    GetConfigurationRequest request;
    EXPECT_FALSE(request.GetComponentName().has_value());
    request.SetComponentName("com.example.Test");
    request.SetKeyPath({"a", "b"});
    GetConfigurationRequest::CHandle c;
    auto err = request.ToC(c);
    ASSERT_FALSE(err);
    ASSERT_TRUE(c);
    EXPECT_STREQ(ggipc_get_configuration_request_get_component_name(c.get()), "com.example.Test");
    EXPECT_EQ(ggipc_get_configuration_request_key_path_count(c.get()), 2u);
    auto back = GetConfigurationRequest::FromC(c.get());
    EXPECT_EQ(back.GetComponentName().value_or(""), "com.example.Test");
    EXPECT_EQ(back.GetKeyPath().value_or(Vector<String>{}), (Vector<String>{"a", "b"}));

    // A union of nested shapes, a document, an enum, a timestamp.
    JsonMessage json;
    json.SetMessage(JsonObject("{ \"n\" : 1 }"));
    MessageContext context;
    context.SetTopic("test/cpp/local");
    json.SetContext(context);
    PublishMessage message;
    message.SetJsonMessage(json);
    PublishToTopicRequest publish;
    publish.SetTopic("test/cpp/local");
    publish.SetPublishMessage(message);
    PublishToTopicRequest::CHandle pc;
    ASSERT_FALSE(publish.ToC(pc));
    auto publishBack = PublishToTopicRequest::FromC(pc.get());
    ASSERT_TRUE(publishBack.GetPublishMessage().has_value());
    auto jm = publishBack.GetPublishMessage()->GetJsonMessage();
    ASSERT_TRUE(jm.has_value());
    EXPECT_EQ(jm->GetMessage().value_or(JsonObject()).WriteCompact(), "{\"n\":1}");
    EXPECT_EQ(jm->GetContext()->GetTopic().value_or(""), "test/cpp/local");
    EXPECT_FALSE(publishBack.GetPublishMessage()->GetBinaryMessage().has_value());

    SubscribeToTopicRequest subscribe;
    subscribe.SetReceiveMode(RECEIVE_MODE_RECEIVE_MESSAGES_FROM_OTHERS);
    SubscribeToTopicRequest::CHandle sc;
    ASSERT_FALSE(subscribe.ToC(sc));
    EXPECT_EQ(SubscribeToTopicRequest::FromC(sc.get()).GetReceiveMode(), RECEIVE_MODE_RECEIVE_MESSAGES_FROM_OTHERS);

    UpdateConfigurationRequest update;
    const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    update.SetTimestamp(when);
    update.SetValueToMerge(JsonObject("{\"k\":[true,null]}"));
    UpdateConfigurationRequest::CHandle uc;
    ASSERT_FALSE(update.ToC(uc));
    auto updateBack = UpdateConfigurationRequest::FromC(uc.get());
    EXPECT_EQ(updateBack.GetTimestamp(), when);
    EXPECT_EQ(updateBack.GetValueToMerge()->WriteCompact(), "{\"k\":[true,null]}");

    // Invalid input is refused by the library, with its error.
    UpdateConfigurationRequest bad;
    bad.SetValueToMerge(JsonObject("{not json"));
    UpdateConfigurationRequest::CHandle none;
    auto refused = bad.ToC(none);
    ASSERT_TRUE(refused);
    EXPECT_EQ(ggipc_error_get_kind(refused.get()), GGIPC_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_FALSE(none);
    SubscribeToTopicRequest badMode;
    badMode.SetReceiveMode(static_cast<ReceiveMode>(7));
    SubscribeToTopicRequest::CHandle none2;
    auto badModeErr = badMode.ToC(none2);
    ASSERT_TRUE(badModeErr);
    EXPECT_EQ(ggipc_error_get_kind(badModeErr.get()), GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR);
    EXPECT_STREQ(ggipc_error_get_message(badModeErr.get()), "Invalid ReceiveMode value: 7");
}

TEST(CppModel, ToViewPointsAtTheMembersAsTheCApiReadsThem) {
    // Lists of strings, a timestamp and a document.
    UpdateConfigurationRequest update;
    update.SetKeyPath({"a", "b"});
    const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    update.SetTimestamp(when);
    update.SetValueToMerge(JsonObject("{ \"k\" : [true, null] }"));
    UpdateConfigurationRequest::View uv;
    update.ToView(uv);
    ASSERT_TRUE(uv.c.has_key_path);
    ASSERT_EQ(uv.c.key_path_count, 2u);
    EXPECT_STREQ(uv.c.key_path[0], "a");
    EXPECT_STREQ(uv.c.key_path[1], "b");
    EXPECT_TRUE(uv.c.has_timestamp);
    EXPECT_DOUBLE_EQ(uv.c.timestamp, 1700000000.0);
    // The document travels as the text it was given; the C API parses it.
    EXPECT_STREQ(uv.c.value_to_merge, "{ \"k\" : [true, null] }");
    // An empty list is present (as the SDK sends it); members never set stay absent.
    UpdateConfigurationRequest empty;
    empty.SetKeyPath({});
    UpdateConfigurationRequest::View ev;
    empty.ToView(ev);
    EXPECT_TRUE(ev.c.has_key_path);
    EXPECT_EQ(ev.c.key_path_count, 0u);
    EXPECT_FALSE(ev.c.has_timestamp);
    EXPECT_EQ(ev.c.value_to_merge, nullptr);

    // Nested shapes and a union.
    BinaryMessage binary;
    binary.SetMessage(Vector<uint8_t>{1, 2, 3});
    MessageContext context;
    context.SetTopic("t");
    binary.SetContext(context);
    PublishMessage message;
    message.SetBinaryMessage(binary);
    PublishToTopicRequest publish;
    publish.SetTopic("local");
    publish.SetPublishMessage(message);
    PublishToTopicRequest::View pv;
    publish.ToView(pv);
    EXPECT_STREQ(pv.c.topic, "local");
    ASSERT_NE(pv.c.publish_message, nullptr);
    EXPECT_EQ(pv.c.publish_message->json_message, nullptr);
    const ggipc_binary_message_view *b = pv.c.publish_message->binary_message;
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->has_message);
    ASSERT_EQ(b->message_len, 3u);
    EXPECT_EQ(b->message[2], 3);
    ASSERT_NE(b->context, nullptr);
    EXPECT_STREQ(b->context->topic, "t");

    // Lists of shapes; the SDK's empty-payload rule (an empty blob is left out).
    UserProperty property;
    property.SetKey("k");
    property.SetValue("v");
    PublishToIoTCoreRequest iot;
    iot.SetPayload(Vector<uint8_t>{});
    iot.SetUserProperties({property, property});
    iot.SetQos(QOS_AT_LEAST_ONCE);
    PublishToIoTCoreRequest::View iv;
    iot.ToView(iv);
    EXPECT_FALSE(iv.c.has_payload);
    EXPECT_TRUE(iv.c.has_qos);
    EXPECT_EQ(iv.c.qos, GGIPC_QOS_AT_LEAST_ONCE);
    ASSERT_EQ(iv.c.user_properties_count, 2u);
    EXPECT_STREQ(iv.c.user_properties[1].key, "k");
    EXPECT_STREQ(iv.c.user_properties[1].value, "v");
}

TEST_F(CppApi, NewRequestResponseOperationReachesTheServer) {
    GetConfigurationRequest request;
    request.SetKeyPath({"setting"});
    GetConfigurationOperation operation = client.NewGetConfiguration();
    auto activate = operation.Activate(request, nullptr);
    EXPECT_TRUE(activate.get());
    auto future = operation.GetResult();
    ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
    auto result = future.get();
    ASSERT_EQ(result.GetResultType(), OPERATION_ERROR);
    // The test component has no configuration: the nucleus' answer.
    auto *error = dynamic_cast<ResourceNotFoundError *>(result.GetOperationError());
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->GetMessage().value_or(""), "Key not found");
    EXPECT_EQ(error->GetModelName(), "aws.greengrass#ResourceNotFoundError");
}

class TopicRecorder : public SubscribeToTopicStreamHandler {
  public:
    Events events;
    void OnStreamEvent(SubscriptionResponseMessage *) override { events.Add(); }
};

TEST_F(CppApi, NewStreamOperationReachesTheServer) {
    TopicRecorder handler;
    SubscribeToTopicRequest request;
    request.SetTopic("test/cpp/local");
    SubscribeToTopicOperation operation = client.NewSubscribeToTopic(handler);
    auto activate = operation.Activate(request, nullptr);
    EXPECT_TRUE(activate.get()); // the request went out; the answer is the result
    auto result = operation.GetResult().get();
    ASSERT_EQ(result.GetResultType(), OPERATION_ERROR);
    // The test component's policies are the MQTT proxy's only.
    EXPECT_NE(dynamic_cast<UnauthorizedError *>(result.GetOperationError()), nullptr);
    EXPECT_EQ(handler.events.Count(), 0u);
}

// The same bad input gives the nucleus' own error class and message.
TEST_F(CppApi, SameErrorForTheSameBadInput) {
    auto check = [](const PublishToIoTCoreResult &r, const std::string &message) {
        ASSERT_EQ(r.GetResultType(), OPERATION_ERROR);
        auto *e = dynamic_cast<InvalidArgumentsError *>(r.GetOperationError());
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->GetMessage().value_or(""), message);
    };
    auto publish = [this](const PublishToIoTCoreRequest &request) {
        auto operation = client.NewPublishToIoTCore();
        operation.Activate(request).wait();
        return operation.GetResult().get();
    };
    PublishToIoTCoreRequest request;
    request.SetTopicName("test/cpp/bad");
    request.SetPayload({'x'});
    request.SetQos(static_cast<QOS>(2));
    check(publish(request), "Invalid QoS value: 2");
    request.SetQos(QOS_AT_MOST_ONCE);
    request.SetPayloadFormat(static_cast<PayloadFormat>(7));
    check(publish(request), "Invalid PayloadFormat value: 7");
    PublishToIoTCoreRequest noTopic;
    noTopic.SetPayload({'x'});
    noTopic.SetQos(QOS_AT_MOST_ONCE);
    check(publish(noTopic), "Topic is required");

    // A subscription with a bad QoS: the same modeled error, as the result (the activation succeeds).
    Recorder handler;
    SubscribeToIoTCoreRequest subscribe;
    subscribe.SetTopicName("test/cpp/bad");
    subscribe.SetQos(static_cast<QOS>(2));
    auto operation = client.NewSubscribeToIoTCore(handler);
    EXPECT_TRUE(operation.Activate(subscribe, nullptr).get());
    auto sub = operation.GetResult().get();
    ASSERT_EQ(sub.GetResultType(), OPERATION_ERROR);
    auto *bad = dynamic_cast<InvalidArgumentsError *>(sub.GetOperationError());
    ASSERT_NE(bad, nullptr);
    EXPECT_EQ(bad->GetMessage().value_or(""), "Invalid QoS value: 2");
}

// A negative timeout is refused before connecting, in the core's words (as in every binding).
TEST(CppConnect, NegativeTimeoutIsRefused) {
    Io::EventLoopGroup elg(1);
    Io::DefaultHostResolver resolver(elg, 64, 30);
    Io::ClientBootstrap bootstrap(elg, resolver);
    Lifecycle lifecycle;
    GreengrassCoreIpcClient client(bootstrap);
    ConnectionConfig config = Config();
    config.SetConnectTimeout(std::chrono::milliseconds(-1000));
    auto status = client.Connect(lifecycle, config).get();
    EXPECT_FALSE(status);
    EXPECT_EQ(status.message, "connect timeout must be a positive, finite number of seconds, got -1");
    config = Config();
    config.SetOperationTimeout(std::chrono::milliseconds(-1000));
    status = client.Connect(lifecycle, config).get();
    EXPECT_FALSE(status);
    EXPECT_EQ(status.message, "operation timeout must be a positive, finite number of seconds, got -1");
    EXPECT_FALSE(client.IsConnected());
}

} // namespace

/** Blocks in its first message until released, counts messages and lost messages. */
class SlowRecorder : public SubscribeToIoTCoreStreamHandler {
  public:
    Events messages;
    Events lagEvents;
    std::atomic<uint64_t> lagged{0};
    void Release() {
        std::lock_guard<std::mutex> lock(m_mu);
        m_released = true;
        m_cv.notify_all();
    }
    void OnStreamEvent(IoTCoreMessage *) override {
        {
            std::unique_lock<std::mutex> lock(m_mu);
            m_cv.wait_for(lock, kWait, [&] { return m_released; });
        }
        messages.Add();
    }
    void OnStreamLagged(uint64_t dropped) override {
        lagged += dropped;
        lagEvents.Add();
    }

  private:
    std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_released = false;
};

TEST_F(CppApi, LostMessagesReachOnStreamLaggedWithTheirCount) {
    SlowRecorder handler;
    SubscribeToIoTCoreResult subscribed;
    auto operation = Subscribe(client, handler, "test/cpp/lag", &subscribed);
    ASSERT_TRUE(subscribed);
    // The handler holds the first message while more arrive than the subscription queues (10,000).
    const uint64_t n = 10100;
    for (uint64_t i = 0; i < n; i++) {
        PublishToIoTCoreRequest request;
        request.SetTopicName("test/cpp/lag");
        request.SetPayload({static_cast<uint8_t>(i)});
        request.SetQos(QOS_AT_MOST_ONCE);
        auto publish = client.NewPublishToIoTCore();
        publish.Activate(request).wait();
        ASSERT_TRUE(publish.GetResult().get());
    }
    handler.Release();
    ASSERT_TRUE(handler.lagEvents.WaitFor(1));
    // Every message is either delivered or counted as lost.
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (handler.messages.Count() + handler.lagged.load() < n && std::chrono::steady_clock::now() < deadline) {
        handler.messages.WaitFor(handler.messages.Count() + 1);
    }
    EXPECT_GT(handler.lagged.load(), 0u);
    EXPECT_EQ(handler.messages.Count() + handler.lagged.load(), n);
    operation.Close().wait();
}
