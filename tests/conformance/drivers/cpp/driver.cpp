// Conformance scenarios for the ggipc C++ client (the AWS SDK for C++ v2 surface, names swapped).
//
//   ggipc-conformance-cpp SCENARIO
//
// Prints one JSON line {"scenario", "ok", "reason"}; the identity comes from the environment the nucleus gives.

#include <chrono>
#include <climits>
#include <cstdint>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

namespace {

constexpr auto T = std::chrono::seconds(10);

struct Fail : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void Check(bool cond, const std::string &what) {
    if (!cond) {
        throw Fail(what);
    }
}

std::string Unique(const std::string &prefix) {
    static std::mt19937_64 rng(std::random_device{}());
    std::ostringstream s;
    s << "conf/" << prefix << "/" << std::hex << (rng() & 0xffffffffu);
    return s.str();
}

std::vector<uint8_t> Bytes(const std::string &s) { return std::vector<uint8_t>(s.begin(), s.end()); }

class Lifecycle : public ConnectionLifecycleHandler {};

class Events : public SubscribeToIoTCoreStreamHandler {
  public:
    void OnStreamEvent(IoTCoreMessage *event) override {
        std::lock_guard<std::mutex> g(m);
        if (event->GetMessage()) {
            items.push_back(*event->GetMessage());
        }
        cv.notify_all();
    }
    bool OnStreamError(OperationError *) override { return true; }
    bool OnStreamError(RpcError) override { return true; }
    void OnStreamClosed() override {
        std::lock_guard<std::mutex> g(m);
        closed = true;
        cv.notify_all();
    }
    void Await(const std::function<bool()> &pred, const std::string &what) {
        std::unique_lock<std::mutex> g(m);
        if (!cv.wait_for(g, T, pred)) {
            throw Fail("timed out after 10 s waiting for " + what);
        }
    }
    std::mutex m;
    std::condition_variable cv;
    std::vector<MQTTMessage> items;
    bool closed = false;
};

/** Collects a stream's events of type `Event` (a copy of each). */
template <typename Handler, typename Event> class Collect : public Handler {
  public:
    void OnStreamEvent(Event *event) override {
        std::lock_guard<std::mutex> g(m);
        items.push_back(*event);
        cv.notify_all();
    }
    bool OnStreamError(OperationError *) override { return true; }
    bool OnStreamError(RpcError) override { return true; }
    void Await(size_t n, const std::string &what) {
        std::unique_lock<std::mutex> g(m);
        if (!cv.wait_for(g, T, [&] { return items.size() >= n; })) {
            throw Fail("timed out after 10 s waiting for " + what);
        }
    }
    std::mutex m;
    std::condition_variable cv;
    std::vector<Event> items;
};
using LocalEvents = Collect<SubscribeToTopicStreamHandler, SubscriptionResponseMessage>;
using StatusEvents = Collect<SubscribeToIoTCoreConnectionStatusStreamHandler, IoTCoreConnectionStatusEvent>;
using ConfigEvents = Collect<SubscribeToConfigurationUpdateStreamHandler, ConfigurationUpdateEvents>;
using ValidateEvents = Collect<SubscribeToValidateConfigurationUpdatesStreamHandler, ValidateConfigurationUpdateEvents>;
using UpdateEvents = Collect<SubscribeToComponentUpdatesStreamHandler, ComponentUpdatePolicyEvents>;

/** Waits for an operation's result, within the scenario deadline. */
template <typename Op> auto ResultOf(Op &op) {
    auto fut = op.GetResult();
    if (fut.wait_for(T) == std::future_status::timeout) {
        throw Fail("the operation timed out");
    }
    return fut.get();
}

struct Client {
    Lifecycle lifecycle;
    GreengrassCoreIpcClient ipc;
    explicit Client(Io::ClientBootstrap &bootstrap) : ipc(bootstrap) {
        auto status = ipc.Connect(lifecycle).get();
        if (!status) {
            throw Fail("connect: " + std::string(status.StatusToString()));
        }
    }
};

PublishToIoTCoreRequest Pub(const std::string &topic, QOS qos, const std::vector<uint8_t> &payload) {
    PublishToIoTCoreRequest r;
    r.SetTopicName(String(topic));
    r.SetQos(qos);
    r.SetPayload(payload);
    return r;
}

/** Publishes and waits; returns the result (the caller checks it). */
PublishToIoTCoreResult Publish(Client &c, const PublishToIoTCoreRequest &r) {
    auto op = c.ipc.NewPublishToIoTCore();
    op.Activate(r, nullptr).wait();
    auto fut = op.GetResult();
    if (fut.wait_for(T) == std::future_status::timeout) {
        throw Fail("publish timed out");
    }
    return fut.get();
}

void PublishOk(Client &c, const PublishToIoTCoreRequest &r) {
    auto res = Publish(c, r);
    if (!res) {
        if (res.GetResultType() == OPERATION_ERROR) {
            throw Fail("publish: " + std::string(res.GetOperationError()->GetModelName()) + ": " +
                       std::string(res.GetOperationError()->GetMessage().value_or("")));
        }
        throw Fail("publish: " + std::string(res.GetRpcError().StatusToString()));
    }
}

SubscribeToIoTCoreOperation Subscribe(Client &c, const std::string &filter, Events &events,
                                      SubscribeToIoTCoreResult *result = nullptr) {
    SubscribeToIoTCoreRequest r;
    r.SetTopicName(String(filter));
    r.SetQos(QOS_AT_MOST_ONCE);
    auto op = c.ipc.NewSubscribeToIoTCore(events);
    op.Activate(r, nullptr).wait();
    auto fut = op.GetResult();
    if (fut.wait_for(T) == std::future_status::timeout) {
        throw Fail("subscribe timed out");
    }
    auto res = fut.get();
    if (result != nullptr) {
        *result = std::move(res);
    } else if (!res) {
        throw Fail("subscribe " + filter + " failed");
    }
    return op;
}

template <typename R> std::string ExpectError(const R &res, const std::string &model, const std::string &text) {
    Check(!res, "expected " + model + ", the call succeeded");
    Check(res.GetResultType() == OPERATION_ERROR, "expected " + model + ", got " +
                                                      std::string(res.GetRpcError().StatusToString()));
    auto *e = res.GetOperationError();
    std::string name(e->GetModelName());
    std::string msg(e->GetMessage().value_or(""));
    Check(name == "aws.greengrass#" + model, "expected " + model + ", got " + name);
    Check(msg.find(text) != std::string::npos, name + " message \"" + msg + "\" does not contain \"" + text + "\"");
    return model + ": " + msg;
}

std::string Mqtt5(Io::ClientBootstrap &b, QOS qos) {
    Client c(b);
    std::string topic = Unique("mqtt5");
    Events ev;
    auto sub = Subscribe(c, topic, ev);
    auto r = Pub(topic, qos, Bytes("hello mqtt5"));
    r.SetRetain(false);
    UserProperty p1, p2;
    p1.SetKey("k1");
    p1.SetValue("v1");
    p2.SetKey("k2");
    p2.SetValue("v2");
    r.SetUserProperties({p1, p2});
    r.SetMessageExpiryIntervalSeconds(3600);
    std::vector<uint8_t> corr = {0, 'c', 'o', 'r', 'r', 0xff};
    r.SetCorrelationData(corr);
    r.SetResponseTopic("conf/reply");
    r.SetPayloadFormat(PAYLOAD_FORMAT_UTF8);
    r.SetContentType("text/plain");
    PublishOk(c, r);
    ev.Await([&] { return !ev.items.empty(); }, "the event");
    std::lock_guard<std::mutex> g(ev.m);
    const MQTTMessage &m = ev.items[0];
    Check(m.GetTopicName() && std::string(*m.GetTopicName()) == topic, "topic");
    Check(m.GetPayload() && *m.GetPayload() == Bytes("hello mqtt5"), "payload");
    auto props = m.GetUserProperties();
    Check(props && props->size() == 2 && (*props)[0].GetKey() == String("k1") && (*props)[0].GetValue() == String("v1") &&
              (*props)[1].GetKey() == String("k2") && (*props)[1].GetValue() == String("v2"),
          "user properties");
    Check(m.GetCorrelationData() && *m.GetCorrelationData() == corr, "correlation data");
    Check(m.GetResponseTopic() && *m.GetResponseTopic() == String("conf/reply"), "response topic");
    Check(m.GetPayloadFormat() && *m.GetPayloadFormat() == PAYLOAD_FORMAT_UTF8, "payload format");
    auto exp = m.GetMessageExpiryIntervalSeconds();
    Check(exp && *exp > 0 && *exp <= 3600, "message expiry");
    return std::string("all fields delivered (contentType ") + (m.GetContentType() ? "kept" : "dropped") + ")";
}

std::string Roundtrip(Io::ClientBootstrap &b, const std::vector<uint8_t> &payload) {
    Client c(b);
    std::string topic = Unique("payload");
    Events ev;
    auto sub = Subscribe(c, topic, ev);
    PublishOk(c, Pub(topic, QOS_AT_LEAST_ONCE, payload));
    ev.Await([&] { return !ev.items.empty(); }, "the event");
    std::lock_guard<std::mutex> g(ev.m);
    Check(ev.items[0].GetPayload() && *ev.items[0].GetPayload() == payload, "payload differs");
    return "";
}

PublishToTopicResult PublishLocal(Client &c, const std::string &topic, const Optional<PublishMessage> &message) {
    PublishToTopicRequest r;
    r.SetTopic(String(topic));
    if (message) {
        r.SetPublishMessage(*message);
    }
    auto op = c.ipc.NewPublishToTopic();
    op.Activate(r, nullptr).wait();
    return ResultOf(op);
}

std::string LocalPubsub(Io::ClientBootstrap &b) {
    Client c(b);
    std::string topic = Unique("local");
    LocalEvents ev;
    SubscribeToTopicRequest sr;
    sr.SetTopic(String(topic));
    auto sub = c.ipc.NewSubscribeToTopic(ev);
    sub.Activate(sr, nullptr).wait();
    Check(static_cast<bool>(ResultOf(sub)), "subscribe to " + topic + " failed");
    JsonMessage json;
    json.SetMessage(JsonObject("{\"s\":\"\u00fc\"}"));
    PublishMessage m1;
    m1.SetJsonMessage(json);
    Check(static_cast<bool>(PublishLocal(c, topic, m1)), "JSON publish failed");
    std::vector<uint8_t> all(256);
    for (int i = 0; i < 256; ++i) {
        all[i] = static_cast<uint8_t>(i);
    }
    BinaryMessage bin;
    bin.SetMessage(all);
    PublishMessage m2;
    m2.SetBinaryMessage(bin);
    Check(static_cast<bool>(PublishLocal(c, topic, m2)), "binary publish failed");
    ev.Await(2, "two local messages");
    std::lock_guard<std::mutex> g(ev.m);
    const auto &j = ev.items[0];
    const auto &bm = ev.items[1];
    Check(j.GetJsonMessage() && !j.GetBinaryMessage(), "first event is not the JSON message");
    auto jm = j.GetJsonMessage()->GetMessage();
    Check(jm && std::string(jm->WriteCompact()) == "{\"s\":\"\u00fc\"}",
          "JSON message " + (jm ? std::string(jm->WriteCompact()) : std::string("absent")));
    auto jc = j.GetJsonMessage()->GetContext();
    Check(jc && jc->GetTopic() && std::string(*jc->GetTopic()) == topic, "JSON context");
    Check(bm.GetBinaryMessage() && !bm.GetJsonMessage(), "second event is not the binary message");
    auto bv = bm.GetBinaryMessage()->GetMessage();
    Check(bv && *bv == all, "binary message differs");
    auto bc = bm.GetBinaryMessage()->GetContext();
    Check(bc && bc->GetTopic() && std::string(*bc->GetTopic()) == topic, "binary context");
    return "";
}

const std::string kComponent = "io.ggipc.conformance.Client";

/** Starts an operation with `request` and waits for its result. */
template <typename Op, typename Req> auto Call(Op op, const Req &request) {
    op.Activate(request, nullptr).wait();
    return ResultOf(op);
}

GetConfigurationRequest Get(const std::vector<std::string> &keys) {
    GetConfigurationRequest r;
    r.SetKeyPath(Vector<String>(keys.begin(), keys.end()));
    return r;
}

/** The configuration value at `keys` as compact JSON. */
std::string Value(Client &c, const std::vector<std::string> &keys) {
    auto res = Call(c.ipc.NewGetConfiguration(), Get(keys));
    Check(static_cast<bool>(res), "GetConfiguration failed");
    auto v = res.GetOperationResponse()->GetValue();
    Check(v.has_value(), "a response without a value");
    return std::string(v->WriteCompact());
}

UpdateConfigurationRequest Update(const std::vector<std::string> *keys, int offsetSeconds, const char *json) {
    UpdateConfigurationRequest r;
    if (keys != nullptr) {
        r.SetKeyPath(Vector<String>(keys->begin(), keys->end()));
    }
    if (offsetSeconds != INT32_MIN) {
        r.SetTimestamp(std::chrono::system_clock::now() + std::chrono::seconds(offsetSeconds));
    }
    if (json != nullptr) {
        r.SetValueToMerge(JsonObject(json));
    }
    return r;
}

void UpdateOk(Client &c, const UpdateConfigurationRequest &r, const std::string &what) {
    auto res = Call(c.ipc.NewUpdateConfiguration(), r);
    if (!res) {
        std::string detail = res.GetResultType() == OPERATION_ERROR
                                 ? std::string(res.GetOperationError()->GetMessage().value_or(""))
                                 : std::string(res.GetRpcError().StatusToString());
        throw Fail(what + " failed: " + detail);
    }
}

/** Asks the runner for a deployment (tests/conformance/run.py, TRIGGER). */
void Trigger(const std::string &what) { std::cout << "TRIGGER " << what << std::endl; }

std::string UidPart() {
    std::string u = Unique("x");
    return u.substr(u.rfind('/') + 1);
}

std::string ConfigScenario(Io::ClientBootstrap &b, const std::string &s) {
    Client c(b);
    if (s == "config_get") {
        auto res = Call(c.ipc.NewGetConfiguration(), GetConfigurationRequest());
        Check(static_cast<bool>(res), "GetConfiguration failed");
        auto *r = res.GetOperationResponse();
        Check(r->GetComponentName() && std::string(*r->GetComponentName()) == kComponent, "componentName");
        std::string whole = r->GetValue() ? std::string(r->GetValue()->WriteCompact()) : "";
        Check(whole.find("\"topic\":\"conf/settings\"") != std::string::npos &&
                  whole.find("\"rate\":5") != std::string::npos &&
                  whole.find("\"nested\":{\"flag\":true}") != std::string::npos,
              "whole configuration " + whole);
        auto leafReq = Get({"settings", "topic"});
        leafReq.SetComponentName(String(kComponent));
        auto leaf = Call(c.ipc.NewGetConfiguration(), leafReq);
        Check(static_cast<bool>(leaf), "GetConfiguration of the leaf failed");
        std::string lv(leaf.GetOperationResponse()->GetValue()->WriteCompact());
        Check(lv == "{\"topic\":\"conf/settings\"}", "leaf " + lv);
        std::string ov = Value(c, {"settings", "nested"});
        Check(ov == "{\"flag\":true}", "object " + ov);
        return "";
    }
    if (s == "config_update") {
        std::string id = UidPart();
        ConfigEvents ev;
        SubscribeToConfigurationUpdateRequest sr;
        sr.SetKeyPath({"scratch"});
        auto sub = c.ipc.NewSubscribeToConfigurationUpdate(ev);
        sub.Activate(sr, nullptr).wait();
        Check(static_cast<bool>(ResultOf(sub)), "SubscribeToConfigurationUpdate failed");
        std::vector<std::string> k = {"scratch", id};
        UpdateOk(c, Update(&k, 0, "{\"value\":\"one\"}"), "the update");
        std::vector<String> want = {"scratch", id, "value"};
        auto count = [&] {
            size_t n = 0;
            for (auto &e : ev.items) {
                auto u = e.GetConfigurationUpdateEvent();
                if (u && u->GetKeyPath() && *u->GetKeyPath() == want) {
                    n++;
                }
            }
            return n;
        };
        {
            std::unique_lock<std::mutex> g(ev.m);
            Check(ev.cv.wait_for(g, T, [&] { return count() >= 1; }), "timed out waiting for the event");
            auto u = ev.items.back().GetConfigurationUpdateEvent();
            Check(u && u->GetComponentName() && std::string(*u->GetComponentName()) == kComponent,
                  "event componentName");
        }
        std::string got = Value(c, {"scratch", id, "value"});
        Check(got == "{\"value\":\"one\"}", "after the update " + got);
        std::string root = "{\"scratch\":{\"" + id + "\":{\"value\":\"two\"}}}";
        UpdateOk(c, Update(nullptr, 0, root.c_str()), "the root update");
        std::unique_lock<std::mutex> g(ev.m);
        Check(ev.cv.wait_for(g, T, [&] { return count() >= 2; }), "timed out waiting for the second event");
        for (auto &e : ev.items) {
            auto p = e.GetConfigurationUpdateEvent()->GetKeyPath();
            Check(p && p->size() >= 2 && (*p)[0] == "scratch" && (*p)[1] == id, "an event outside scratch/" + id);
        }
        size_t n = ev.items.size();
        g.unlock();
        got = Value(c, {"scratch", id});
        Check(got == "{\"value\":\"two\"}", "after the root update " + got);
        return std::to_string(n) + " events under scratch/" + id;
    }
    if (s == "config_update_refused") {
        std::vector<std::string> k = {"scratch", UidPart()};
        UpdateOk(c, Update(&k, 0, "{\"value\":\"a\"}"), "the first update");
        UpdateOk(c, Update(&k, 3600, "{\"value\":\"future\"}"), "the future update");
        auto r = ExpectError(Call(c.ipc.NewUpdateConfiguration(), Update(&k, 0, "{\"value\":\"older\"}")),
                             "FailedUpdateConditionCheckError",
                             "Proposed timestamp is older than the config's latest modified timestamp");
        std::string got = Value(c, {k[0], k[1], "value"});
        Check(got == "{\"value\":\"future\"}", "after the refused update " + got);
        return r;
    }
    if (s == "config_invalid") {
        std::vector<std::string> scratch = {"scratch"};
        std::vector<std::string> acl = {"accessControl", "x"};
        auto r = ExpectError(Call(c.ipc.NewUpdateConfiguration(), Update(&scratch, INT32_MIN, "{\"a\":\"b\"}")),
                             "InvalidArgumentsError", "Timestamp is required");
        ExpectError(Call(c.ipc.NewUpdateConfiguration(), Update(&scratch, 0, nullptr)), "InvalidArgumentsError",
                    "ValueToMerge is required");
        ExpectError(Call(c.ipc.NewUpdateConfiguration(), Update(nullptr, 0, "{\"accessControl\":{}}")),
                    "InvalidArgumentsError", "Config update is not allowed for following fields [accessControl]");
        ExpectError(Call(c.ipc.NewUpdateConfiguration(), Update(&acl, 0, "{\"a\":\"b\"}")),
                    "InvalidArgumentsError", "Config update is not allowed for following fields [accessControl]");
        ExpectError(Call(c.ipc.NewGetConfiguration(), Get({"settings", "missing"})), "ResourceNotFoundError",
                    "Key not found");
        GetConfigurationRequest other;
        other.SetComponentName("no.Such.Component");
        ExpectError(Call(c.ipc.NewGetConfiguration(), other), "ResourceNotFoundError", "Key not found");
        ConfigEvents ev;
        SubscribeToConfigurationUpdateRequest sr;
        sr.SetKeyPath({"missing"});
        auto sub = c.ipc.NewSubscribeToConfigurationUpdate(ev);
        sub.Activate(sr, nullptr).wait();
        ExpectError(ResultOf(sub), "ResourceNotFoundError", "Key not found");
        return r + " (and the others)";
    }
    if (s == "config_validate") {
        ValidateEvents ev;
        auto sub = c.ipc.NewSubscribeToValidateConfigurationUpdates(ev);
        sub.Activate(SubscribeToValidateConfigurationUpdatesRequest(), nullptr).wait();
        Check(static_cast<bool>(ResultOf(sub)), "SubscribeToValidateConfigurationUpdates failed");
        Trigger("validate");
        ev.Await(1, "the validation event");
        ValidateConfigurationUpdateEvent e;
        {
            std::lock_guard<std::mutex> g(ev.m);
            auto got = ev.items[0].GetValidateConfigurationUpdateEvent();
            Check(got.has_value(), "an event without validateConfigurationUpdateEvent");
            e = *got;
        }
        Check(e.GetDeploymentId().has_value(), "a validation event without deploymentId");
        std::string conf = e.GetConfiguration() ? std::string(e.GetConfiguration()->WriteCompact()) : "";
        Check(conf.find("\"validated\":\"yes\"") != std::string::npos &&
                  conf.find("\"topic\":\"conf/settings\"") != std::string::npos,
              "proposed configuration " + conf);
        ConfigurationValidityReport report;
        report.SetStatus(CONFIGURATION_VALIDITY_STATUS_REJECTED);
        report.SetDeploymentId(*e.GetDeploymentId());
        report.SetMessage("conformance rejects");
        SendConfigurationValidityReportRequest rr;
        rr.SetConfigurationValidityReport(report);
        Check(static_cast<bool>(Call(c.ipc.NewSendConfigurationValidityReport(), rr)),
              "SendConfigurationValidityReport failed");
        return "deployment " + std::string(*e.GetDeploymentId()) + " rejected";
    }
    if (s == "update_state") {
        UpdateStateRequest running;
        running.SetState(REPORTED_LIFECYCLE_STATE_RUNNING);
        Check(static_cast<bool>(Call(c.ipc.NewUpdateState(), running)), "UpdateState RUNNING failed");
        return ExpectError(Call(c.ipc.NewUpdateState(), UpdateStateRequest()), "InvalidArgumentsError",
                           "State is required");
    }
    if (s == "lifecycle_invalid") {
        DeferComponentUpdateRequest defer;
        defer.SetDeploymentId("d-none");
        defer.SetRecheckAfterMs(1000);
        auto r = ExpectError(Call(c.ipc.NewDeferComponentUpdate(), defer), "InvalidArgumentsError",
                             "Component is not subscribed to component update events");
        ConfigurationValidityReport report;
        report.SetStatus(CONFIGURATION_VALIDITY_STATUS_ACCEPTED);
        report.SetDeploymentId("d-none");
        SendConfigurationValidityReportRequest rr;
        rr.SetConfigurationValidityReport(report);
        ExpectError(Call(c.ipc.NewSendConfigurationValidityReport(), rr), "InvalidArgumentsError",
                    "Validation request either timed out or was never made");
        ConfigurationValidityReport noId;
        noId.SetStatus(CONFIGURATION_VALIDITY_STATUS_ACCEPTED);
        rr.SetConfigurationValidityReport(noId);
        ExpectError(Call(c.ipc.NewSendConfigurationValidityReport(), rr), "InvalidArgumentsError",
                    "Cannot accept configuration validity report, the deployment ID provided was null");
        UpdateEvents ev;
        auto sub = c.ipc.NewSubscribeToComponentUpdates(ev);
        sub.Activate(SubscribeToComponentUpdatesRequest(), nullptr).wait();
        Check(static_cast<bool>(ResultOf(sub)), "SubscribeToComponentUpdates failed");
        ExpectError(Call(c.ipc.NewDeferComponentUpdate(), defer), "ServiceError",
                    "Time limit to respond to PreComponentUpdateEvent exceeded");
        return r + " (and the others)";
    }
    if (s == "component_updates") {
        UpdateEvents ev;
        auto sub = c.ipc.NewSubscribeToComponentUpdates(ev);
        sub.Activate(SubscribeToComponentUpdatesRequest(), nullptr).wait();
        Check(static_cast<bool>(ResultOf(sub)), "SubscribeToComponentUpdates failed");
        Trigger("deploy");
        ev.Await(1, "the pre-update event");
        std::string id;
        {
            std::lock_guard<std::mutex> g(ev.m);
            auto pre = ev.items[0].GetPreUpdateEvent();
            Check(pre && pre->GetDeploymentId(), "the first event is not a pre-update event");
            Check(pre->GetIsGgcRestarting() && !*pre->GetIsGgcRestarting(), "isGgcRestarting");
            id = *pre->GetDeploymentId();
        }
        DeferComponentUpdateRequest defer;
        defer.SetDeploymentId(String(id));
        defer.SetMessage("conformance busy");
        defer.SetRecheckAfterMs(500);
        Check(static_cast<bool>(Call(c.ipc.NewDeferComponentUpdate(), defer)), "DeferComponentUpdate failed");
        ev.Await(2, "the pre-update event after the deferral");
        {
            std::lock_guard<std::mutex> g(ev.m);
            auto again = ev.items[1].GetPreUpdateEvent();
            Check(again && again->GetDeploymentId() && *again->GetDeploymentId() == id, "the second event");
        }
        DeferComponentUpdateRequest ack;
        ack.SetDeploymentId(String(id));
        ack.SetRecheckAfterMs(0);
        Check(static_cast<bool>(Call(c.ipc.NewDeferComponentUpdate(), ack)), "the acknowledgement failed");
        ev.Await(3, "the post-update event");
        std::lock_guard<std::mutex> g(ev.m);
        auto post = ev.items[2].GetPostUpdateEvent();
        Check(post && post->GetDeploymentId() && *post->GetDeploymentId() == id, "the third event");
        return "deployment " + id + ": deferred once, then post-update";
    }
    throw Fail("unknown scenario");
}

std::string Run(Io::ClientBootstrap &b, const std::string &s) {
    if (s.rfind("config_", 0) == 0 || s == "update_state" || s == "lifecycle_invalid" || s == "component_updates") {
        return ConfigScenario(b, s);
    }
    if (s == "local_pubsub") {
        return LocalPubsub(b);
    }
    if (s == "local_pubsub_invalid") {
        Client c(b);
        auto r = ExpectError(PublishLocal(c, Unique("local"), Optional<PublishMessage>()), "InvalidArgumentsError",
                             "Publish message is required");
        BinaryMessage bin;
        bin.SetMessage(Bytes("x"));
        PublishMessage one;
        one.SetBinaryMessage(bin);
        ExpectError(PublishLocal(c, "forbidden/x", one), "UnauthorizedError",
                    "is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource "
                    "forbidden/x");
        return r + " (and UnauthorizedError outside the policy)";
    }
    if (s == "connection_status") {
        Client c(b);
        StatusEvents ev;
        auto op = c.ipc.NewSubscribeToIoTCoreConnectionStatus(ev);
        op.Activate(SubscribeToIoTCoreConnectionStatusRequest(), nullptr).wait();
        Check(static_cast<bool>(ResultOf(op)), "subscribe to the connection status failed");
        ev.Await(1, "the first status event");
        std::lock_guard<std::mutex> g(ev.m);
        auto e = ev.items[0].GetConnectionStatusEvent();
        Check(e && e->GetStatus() && *e->GetStatus() == CONNECTION_STATUS_CONNECTED, "the first event is not CONNECTED");
        return "";
    }
    if (s == "connect_good") {
        Client c(b);
        c.ipc.Close();
        return "";
    }
    if (s == "connect_bad_token") {
        Lifecycle l;
        GreengrassCoreIpcClient ipc(b);
        auto status = ipc.Connect(l).get();
        Check(!status, "a bad token was accepted");
        Check(status.baseStatus == EVENT_STREAM_RPC_CONNECTION_ACCESS_DENIED,
              "refused, but not as access denied: " + std::string(status.StatusToString()));
        return "refused: " + std::string(status.StatusToString());
    }
    if (s == "publish_qos0_mqtt5") {
        return Mqtt5(b, QOS_AT_MOST_ONCE);
    }
    if (s == "publish_qos1_mqtt5") {
        return Mqtt5(b, QOS_AT_LEAST_ONCE);
    }
    if (s == "wildcard") {
        Client c(b);
        std::string base = Unique("wild");
        Events plus, hash;
        auto s1 = Subscribe(c, base + "/+/x", plus);
        auto s2 = Subscribe(c, base + "/#", hash);
        PublishOk(c, Pub(base + "/a/x", QOS_AT_LEAST_ONCE, Bytes("1")));
        PublishOk(c, Pub(base + "/b/y", QOS_AT_LEAST_ONCE, Bytes("2")));
        hash.Await([&] { return hash.items.size() >= 2; }, "two events on #");
        plus.Await([&] { return !plus.items.empty(); }, "one event on +/x");
        std::lock_guard<std::mutex> g1(hash.m);
        std::lock_guard<std::mutex> g2(plus.m);
        Check(std::string(*hash.items[0].GetTopicName()) == base + "/a/x" &&
                  std::string(*hash.items[1].GetTopicName()) == base + "/b/y",
              "order or topics on #");
        Check(plus.items.size() == 1 && std::string(*plus.items[0].GetTopicName()) == base + "/a/x", "+/x events");
        return "";
    }
    if (s == "binary_payload") {
        std::vector<uint8_t> all(256);
        for (int i = 0; i < 256; i++) {
            all[i] = static_cast<uint8_t>(i);
        }
        return Roundtrip(b, all);
    }
    if (s == "payload_128k") {
        std::vector<uint8_t> big(131072);
        std::mt19937 rng(7);
        for (auto &x : big) {
            x = static_cast<uint8_t>(rng());
        }
        return Roundtrip(b, big);
    }
    if (s == "service_error") {
        Client c(b);
        return ExpectError(Publish(c, Pub(Unique("big"), QOS_AT_LEAST_ONCE, std::vector<uint8_t>(131073, 'x'))),
                           "ServiceError", "exceeds the configured limit of 131072 bytes");
    }
    if (s == "unauthorized") {
        Client c(b);
        auto r = ExpectError(Publish(c, Pub("forbidden/x", QOS_AT_MOST_ONCE, Bytes("x"))), "UnauthorizedError",
                             "Not Authorized");
        Events ev;
        SubscribeToIoTCoreResult res;
        auto op = Subscribe(c, "forbidden/#", ev, &res);
        ExpectError(res, "UnauthorizedError", "Not Authorized");
        return r + " (publish and subscribe)";
    }
    if (s == "invalid_arguments") {
        Client c(b);
        PublishToIoTCoreRequest r;
        r.SetTopicName(String(Unique("inv")));
        r.SetPayload(Bytes("x"));
        return ExpectError(Publish(c, r), "InvalidArgumentsError", "QoS is required");
    }
    if (s == "server_terminate") {
        Client c(b);
        Events ev;
        auto op = Subscribe(c, Unique("term"), ev);
        PublishOk(c, Pub("conf/ctl/terminate", QOS_AT_MOST_ONCE, Bytes("x")));
        ev.Await([&] { return ev.closed; }, "OnStreamClosed");
        PublishOk(c, Pub(Unique("term"), QOS_AT_LEAST_ONCE, Bytes("after")));
        return "";
    }
    if (s == "server_ping") {
        Client c(b);
        PublishOk(c, Pub("conf/ctl/ping", QOS_AT_MOST_ONCE, Bytes("x")));
        PublishOk(c, Pub(Unique("ping"), QOS_AT_LEAST_ONCE, Bytes("after")));
        PublishOk(c, Pub(Unique("ping"), QOS_AT_LEAST_ONCE, Bytes("after")));
        return "connection still serves after the server's PING (the API has no ping callback to check)";
    }
    if (s == "close_while_streaming") {
        std::string topic = Unique("flood");
        {
            Client c(b);
            Events ev;
            auto op = Subscribe(c, topic, ev);
            std::vector<PublishToIoTCoreOperation> ops;
            for (int i = 0; i < 200; i++) {
                ops.push_back(c.ipc.NewPublishToIoTCore());
                ops.back().Activate(Pub(topic, QOS_AT_MOST_ONCE, Bytes(std::to_string(i))), nullptr);
            }
            ev.Await([&] { return !ev.items.empty(); }, "the first event");
            op.Close().wait();
            for (auto &o : ops) {
                auto f = o.GetResult();
                Check(f.wait_for(T) != std::future_status::timeout, "publish while closing timed out");
                Check(static_cast<bool>(f.get()), "publish while closing failed");
            }
            PublishOk(c, Pub(topic, QOS_AT_LEAST_ONCE, Bytes("after close")));
            Events ev2;
            auto op2 = Subscribe(c, topic, ev2);
            for (int i = 0; i < 200; i++) {
                c.ipc.NewPublishToIoTCore().Activate(Pub(topic, QOS_AT_MOST_ONCE, Bytes(std::to_string(i))), nullptr);
            }
            ev2.Await([&] { return !ev2.items.empty(); }, "the first event of the second subscription");
            auto t0 = std::chrono::steady_clock::now();
            c.ipc.Close();
            Check(std::chrono::steady_clock::now() - t0 < T, "close took too long");
        }
        Client c2(b);
        PublishOk(c2, Pub(topic, QOS_AT_LEAST_ONCE, Bytes("server still serving")));
        return "";
    }
    throw Fail("unknown scenario");
}

std::string Json(const std::string &s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

} // namespace

int main(int argc, char **argv) {
    std::string scenario = argc > 1 ? argv[1] : "";
    ApiHandle apiHandle(g_allocator);
    Io::EventLoopGroup eventLoopGroup(1);
    Io::DefaultHostResolver socketResolver(eventLoopGroup, 64, 30);
    Io::ClientBootstrap bootstrap(eventLoopGroup, socketResolver);
    bool ok = false;
    std::string reason;
    try {
        reason = Run(bootstrap, scenario);
        ok = true;
    } catch (const std::exception &e) {
        reason = e.what();
    }
    std::cout << "{\"scenario\":" << Json(scenario) << ",\"ok\":" << (ok ? "true" : "false")
              << ",\"reason\":" << Json(reason) << "}" << std::endl;
    std::_Exit(0);
}
