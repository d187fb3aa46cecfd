// Follows the nucleus' connection to AWS IoT Core (SubscribeToIoTCoreConnectionStatus): prints the current
// status, then each change, until stopped.
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

// The first event arrives while the main thread may still be printing its own line: each line is written
// whole, under one lock, so the two never interleave.
static std::mutex outputLock;

static void PrintLine(std::ostream &out, const std::string &line) {
    std::lock_guard<std::mutex> guard(outputLock);
    out << line << std::endl;
}

class ConnectionStatusHandler : public SubscribeToIoTCoreConnectionStatusStreamHandler {
    void OnStreamEvent(IoTCoreConnectionStatusEvent *response) override {
        auto event = response->GetConnectionStatusEvent();
        if (event.has_value() && event.value().GetStatus().has_value()) {
            bool connected = event.value().GetStatus().value() == CONNECTION_STATUS_CONNECTED;
            PrintLine(std::cout,
                      std::string("IoT Core connection status: ") + (connected ? "CONNECTED" : "DISCONNECTED"));
        }
    }

    bool OnStreamError(OperationError *error) override {
        PrintLine(std::cerr, "Received a stream error: " + error->GetMessage().value_or(""));
        return false; // Return true to close the stream, false to keep it open.
    }

    void OnStreamClosed() override { PrintLine(std::cout, "Connection status stream closed."); }
};

class IpcClientLifecycleHandler : public ConnectionLifecycleHandler {
    void OnConnectCallback() override {}

    void OnDisconnectCallback(RpcError error) override { (void)error; }

    bool OnErrorCallback(RpcError error) override {
        std::cerr << "IPC connection error: " << error.StatusToString() << std::endl;
        return true;
    }
};

int main() {
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

    SubscribeToIoTCoreConnectionStatusRequest request;
    ConnectionStatusHandler streamHandler;
    SubscribeToIoTCoreConnectionStatusOperation operation = ipcClient.NewSubscribeToIoTCoreConnectionStatus(streamHandler);
    auto activate = operation.Activate(request, nullptr);
    activate.wait();

    auto responseFuture = operation.GetResult();
    if (responseFuture.wait_for(std::chrono::seconds(timeout)) == std::future_status::timeout) {
        std::cerr << "Operation timed out while waiting for response from Greengrass Core." << std::endl;
        exit(-1);
    }
    auto response = responseFuture.get();
    if (!response) {
        std::cerr << "Error subscribing to the IoT Core connection status" << std::endl;
        exit(-1);
    }
    PrintLine(std::cout, "Successfully subscribed to the IoT Core connection status");

    // Keep the main thread alive, or the process will exit.
    while (true) {
        std::this_thread::sleep_for(std::chrono::seconds(10));
    }

    operation.Close();
    return 0;
}
