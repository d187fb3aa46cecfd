// SPDX-License-Identifier: Apache-2.0
// Tests of the forwarder component with ggipc::testing::LocalNucleus: the happy path, a denied topic, a broker
// outage and a nucleus restart.
#include <gtest/gtest.h>

#include <ggipc/testing.hpp>

#include "forwarder.hpp"

namespace {

// The component's recipe accessControl: local commands in, two telemetry topics out.
const char *POLICY = R"({
  "aws.greengrass.ipc.pubsub": {"com.example.Forwarder:commands": {
    "operations": ["aws.greengrass#SubscribeToTopic"], "resources": ["commands/#"]}},
  "aws.greengrass.ipc.mqttproxy": {"com.example.Forwarder:telemetry": {
    "operations": ["aws.greengrass#PublishToIoTCore"],
    "resources": ["telemetry/temperature", "telemetry/humidity"]}}
})";

class ForwarderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        nucleus.setEnv();  // the component's DefaultConnectionConfig now finds this nucleus
        ASSERT_TRUE(component.Start());
        nucleus.waitForLocalSubscription("commands/#");
    }

    ggipc::testing::LocalNucleus nucleus{"com.example.Forwarder", POLICY};
    forwarder::Forwarder component;
};

TEST_F(ForwarderTest, ForwardsACommandToTelemetry) {
    EXPECT_EQ(nucleus.publishLocal("commands/temperature", "21.5"), 1u);
    auto msg = nucleus.waitForPublish("telemetry/temperature");
    EXPECT_EQ(msg.payload, "21.5");
    // The nucleus records the publish before its answer reaches the component: wait for that too.
    ASSERT_TRUE(component.WaitHandled(1));
    EXPECT_EQ(component.Forwarded(), 1u);
}

TEST_F(ForwarderTest, ADeniedTopicIsReportedAndForwardingGoesOn) {
    nucleus.publishLocal("commands/secret", "x");
    nucleus.publishLocal("commands/humidity", "40");
    EXPECT_EQ(nucleus.waitForPublish("telemetry/humidity").payload, "40");
    ASSERT_TRUE(component.WaitHandled(2));
    ASSERT_EQ(component.Errors().size(), 1u);
    EXPECT_EQ(component.Errors()[0], "Not Authorized");
    try {
        nucleus.waitForPublish("telemetry/secret", 1, std::chrono::milliseconds(100));
        FAIL() << "nothing may reach telemetry/secret";
    } catch (const ggipc::testing::Error &e) {
        EXPECT_EQ(e.kind(), GGIPC_ERROR_KIND_TIMEOUT);
        EXPECT_NE(std::string(e.what()).find("policy allowing aws.greengrass#PublishToIoTCore"), std::string::npos)
            << e.what();
    }
}

TEST_F(ForwarderTest, CommandsDuringABrokerOutageAreSpooledAndSentAfterIt) {
    nucleus.setConnected(false);
    nucleus.publishLocal("commands/temperature", "during");
    ASSERT_TRUE(component.WaitHandled(1));
    EXPECT_EQ(component.Forwarded(), 1u);  // answered once spooled
    EXPECT_EQ(nucleus.spooledCount(), 1u);
    EXPECT_EQ(nucleus.publishedCount(), 0u);
    nucleus.setConnected(true);
    EXPECT_EQ(nucleus.waitForPublish("telemetry/temperature").payload, "during");
    EXPECT_TRUE(component.Errors().empty());
}

TEST_F(ForwarderTest, ForwardingResumesAfterANucleusRestart) {
    nucleus.restart();
    nucleus.waitForLocalSubscription("commands/#", std::chrono::seconds(15));
    nucleus.publishLocal("commands/temperature", "after");
    EXPECT_EQ(nucleus.waitForPublish("telemetry/temperature").payload, "after");
    ASSERT_TRUE(component.WaitHandled(1));
    EXPECT_TRUE(component.Errors().empty()) << component.Errors()[0];
}

TEST(LocalNucleusMisuse, ClearErrorsInsteadOfHangs) {
    EXPECT_THROW(ggipc::testing::LocalNucleus("c", "{not json"), ggipc::testing::Error);
    ggipc::testing::LocalNucleus n("com.example.NoPolicy");
    try {
        n.waitForSubscription("commands/#", std::chrono::milliseconds(50));
        FAIL() << "expected a timeout";
    } catch (const ggipc::testing::Error &e) {
        EXPECT_EQ(e.kind(), GGIPC_ERROR_KIND_TIMEOUT);
        EXPECT_NE(std::string(e.what()).find("no registered component (com.example.NoPolicy)"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(n.setEnv("com.example.Unknown"), ggipc::testing::Error);
}

}  // namespace
