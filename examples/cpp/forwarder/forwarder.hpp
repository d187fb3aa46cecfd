// SPDX-License-Identifier: Apache-2.0
// A component that forwards commands to telemetry: every local message on `commands/<name>` (PublishToTopic
// from another component) is published to AWS IoT Core on `telemetry/<name>` with QoS 1 and the same payload.
// A forward that fails (a topic its policy does not allow, the broker refusing it) is counted and logged; the
// component keeps forwarding. forwarder_test.cpp tests it with ggipc::testing::LocalNucleus and GoogleTest.
#pragma once

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <ggipc/greengrass.hpp>

namespace forwarder {

using namespace ggipc::crt;
using namespace ggipc::greengrass;

class Forwarder : public SubscribeToTopicStreamHandler, public ConnectionLifecycleHandler {
  public:
    Forwarder() : m_client(m_bootstrap) {}

    /** Connects (from the component's environment, reconnecting after a nucleus restart) and subscribes. */
    bool Start() {
        ConnectionConfig config = DefaultConnectionConfig();
        config.SetReconnect(true);
        if (!m_client.Connect(*this, config).get()) return false;
        SubscribeToTopicRequest request;
        request.SetTopic("commands/#");
        m_operation = std::make_unique<SubscribeToTopicOperation>(m_client.NewSubscribeToTopic(*this));
        m_operation->Activate(request, nullptr).wait();
        auto result = m_operation->GetResult();
        if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return false;
        return static_cast<bool>(result.get());
    }

    ~Forwarder() override {
        if (m_operation) m_operation->Close();
        m_client.Close();
    }

    /** Waits until `count` commands were handled (forwarded or failed). */
    bool WaitHandled(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::unique_lock<std::mutex> lock(m_mutex);
        return m_changed.wait_for(lock, timeout, [&] { return m_forwarded + m_errors.size() >= count; });
    }

    size_t Forwarded() {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_forwarded;
    }

    std::vector<std::string> Errors() {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_errors;
    }

    void OnStreamEvent(SubscriptionResponseMessage *response) override {
        auto binary = response->GetBinaryMessage();
        if (!binary.has_value() || !binary->GetContext().has_value()) return;
        std::string topic = binary->GetContext()->GetTopic().value_or("").c_str();
        const std::string prefix = "commands/";
        if (topic.compare(0, prefix.size(), prefix) != 0) return;
        PublishToIoTCoreRequest request;
        request.SetTopicName(("telemetry/" + topic.substr(prefix.size())).c_str());
        request.SetPayload(binary->GetMessage().value_or(Vector<uint8_t>()));
        request.SetQos(QOS_AT_LEAST_ONCE);
        auto operation = m_client.NewPublishToIoTCore();
        operation.Activate(request, nullptr).wait();
        auto result = operation.GetResult().get();
        std::lock_guard<std::mutex> lock(m_mutex);
        if (result) {
            m_forwarded++;
        } else {
            std::string why;
            if (result.GetResultType() == OPERATION_ERROR) {
                why = result.GetOperationError()->GetMessage().value_or("operation error").c_str();
            } else {
                why = result.GetRpcError().StatusToString().c_str();
            }
            std::cerr << "forward of " << topic << " failed: " << why << std::endl;
            m_errors.push_back(why);
        }
        m_changed.notify_all();
    }

  private:
    Io::EventLoopGroup m_eventLoopGroup{1};
    Io::DefaultHostResolver m_resolver{m_eventLoopGroup, 64, 30};
    Io::ClientBootstrap m_bootstrap{m_eventLoopGroup, m_resolver};
    GreengrassCoreIpcClient m_client;
    std::unique_ptr<SubscribeToTopicOperation> m_operation;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    size_t m_forwarded = 0;
    std::vector<std::string> m_errors;
};

}  // namespace forwarder
