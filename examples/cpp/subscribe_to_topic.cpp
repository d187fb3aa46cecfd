// Subscribes to local messages from other components (SubscribeToTopic) and prints each one until stopped.
// Usage: subscribe_to_topic [TOPIC]   (default: test/topic)
#include <iostream>
#include <thread>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

class SubscribeResponseHandler : public SubscribeToTopicStreamHandler {
    void OnStreamEvent(SubscriptionResponseMessage *response) override {
        auto binaryMessage = response->GetBinaryMessage();
        if (binaryMessage.has_value() && binaryMessage.value().GetMessage().has_value()) {
            auto messageBytes = binaryMessage.value().GetMessage().value();
            std::string message(messageBytes.begin(), messageBytes.end());
            std::string topic = binaryMessage.value().GetContext().value().GetTopic().value().c_str();
            std::cout << "Received new message on topic " << topic << ": " << message << std::endl;
        }
        auto jsonMessage = response->GetJsonMessage();
        if (jsonMessage.has_value() && jsonMessage.value().GetMessage().has_value()) {
            std::string message = jsonMessage.value().GetMessage().value().WriteCompact().c_str();
            std::string topic = jsonMessage.value().GetContext().value().GetTopic().value().c_str();
            std::cout << "Received new JSON message on topic " << topic << ": " << message << std::endl;
        }
    }

    bool OnStreamError(OperationError *error) override {
        std::cerr << "Received a stream error: " << error->GetMessage().value_or("") << std::endl;
        return false; // Return true to close the stream, false to keep it open.
    }

    void OnStreamClosed() override { std::cout << "Subscribe to topic stream closed." << std::endl; }
};

class IpcClientLifecycleHandler : public ConnectionLifecycleHandler {
    void OnConnectCallback() override {}

    void OnDisconnectCallback(RpcError error) override { (void)error; }

    bool OnErrorCallback(RpcError error) override {
        std::cerr << "IPC connection error: " << error.StatusToString() << std::endl;
        return true;
    }
};

int main(int argc, char *argv[]) {
    String topic(argc > 1 ? argv[1] : "test/topic");
    int timeout = 10;

    ApiHandle apiHandle(g_allocator);
    Io::EventLoopGroup eventLoopGroup(1);
    Io::DefaultHostResolver socketResolver(eventLoopGroup, 64, 30);
    Io::ClientBootstrap bootstrap(eventLoopGroup, socketResolver);
    IpcClientLifecycleHandler ipcLifecycleHandler;
    GreengrassCoreIpcClient ipcClient(bootstrap);
    auto connectionStatus = ipcClient.Connect(ipcLifecycleHandler).get();
    if (!connectionStatus) {
        std::cerr << "Failed to establish IPC connection: " << connectionStatus.StatusToString() << std::endl;
        exit(-1);
    }

    SubscribeToTopicRequest request;
    request.SetTopic(topic);
    SubscribeResponseHandler streamHandler;
    SubscribeToTopicOperation operation = ipcClient.NewSubscribeToTopic(streamHandler);
    auto activate = operation.Activate(request, nullptr);
    activate.wait();

    auto responseFuture = operation.GetResult();
    if (responseFuture.wait_for(std::chrono::seconds(timeout)) == std::future_status::timeout) {
        std::cerr << "Operation timed out while waiting for response from Greengrass Core." << std::endl;
        exit(-1);
    }
    auto response = responseFuture.get();
    if (!response) {
        if (response.GetResultType() == OPERATION_ERROR) {
            auto *error = response.GetOperationError();
            std::cerr << "Error subscribing to topic " << topic << ": " << error->GetModelName() << ": "
                      << error->GetMessage().value_or("") << std::endl;
        } else {
            std::cerr << "Error subscribing to topic " << topic << ": " << response.GetRpcError().StatusToString()
                      << std::endl;
        }
        exit(-1);
    }
    std::cout << "Successfully subscribed to topic: " << topic << std::endl;

    // Keep the main thread alive, or the process will exit.
    while (true) {
        std::this_thread::sleep_for(std::chrono::seconds(10));
    }

    operation.Close();
    return 0;
}
