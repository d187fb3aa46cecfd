// Publishes a local message to other components (PublishToTopic), as bytes and as JSON.
// Usage: publish_to_topic [TOPIC] [MESSAGE]   (default: test/topic "Hello, World!")
#include <iostream>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

class IpcClientLifecycleHandler : public ConnectionLifecycleHandler {
    void OnConnectCallback() override {}

    void OnDisconnectCallback(RpcError error) override { (void)error; }

    bool OnErrorCallback(RpcError error) override {
        std::cerr << "IPC connection error: " << error.StatusToString() << std::endl;
        return true;
    }
};

// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
static String JsonString(const String &text) {
    String out("\"");
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    return out;
}

// Publishes one message; returns false (and says why) if the nucleus refused it or did not answer.
static bool Publish(GreengrassCoreIpcClient &ipcClient, const String &topic, const PublishMessage &publishMessage,
                    int timeout) {
    PublishToTopicRequest request;
    request.SetTopic(topic);
    request.SetPublishMessage(publishMessage);

    PublishToTopicOperation operation = ipcClient.NewPublishToTopic();
    auto activate = operation.Activate(request, nullptr);
    activate.wait();

    auto responseFuture = operation.GetResult();
    if (responseFuture.wait_for(std::chrono::seconds(timeout)) == std::future_status::timeout) {
        std::cerr << "Operation timed out while waiting for response from Greengrass Core." << std::endl;
        return false;
    }
    auto response = responseFuture.get();
    if (!response) {
        if (response.GetResultType() == OPERATION_ERROR) {
            auto *error = response.GetOperationError();
            std::cerr << "Error publishing to topic " << topic << ": " << error->GetModelName() << ": "
                      << error->GetMessage().value_or("") << std::endl;
        } else {
            std::cerr << "Error publishing to topic " << topic << ": " << response.GetRpcError().StatusToString()
                      << std::endl;
        }
        return false;
    }
    return true;
}

int main(int argc, char *argv[]) {
    String topic(argc > 1 ? argv[1] : "test/topic");
    String message(argc > 2 ? argv[2] : "Hello, World!");
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

    BinaryMessage binaryMessage;
    binaryMessage.SetMessage(Vector<uint8_t>(message.begin(), message.end()));
    PublishMessage binary;
    binary.SetBinaryMessage(binaryMessage);
    if (!Publish(ipcClient, topic, binary, timeout)) {
        exit(-1);
    }
    std::cout << "Published binary message to topic " << topic << ": " << message << std::endl;

    JsonMessage jsonMessage;
    jsonMessage.SetMessage(JsonObject("{\"message\":" + JsonString(message) + "}"));
    PublishMessage json;
    json.SetJsonMessage(jsonMessage);
    if (!Publish(ipcClient, topic, json, timeout)) {
        exit(-1);
    }
    std::cout << "Published JSON message to topic " << topic << ": " << message << std::endl;
    return 0;
}
