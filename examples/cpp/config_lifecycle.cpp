// A component that lives by its configuration and its deployments (ggipc, C++ client):
//  * reports RUNNING (UpdateState),
//  * reads its `threshold` (GetConfiguration of a key path),
//  * records when it started under `status/lastStart` (UpdateConfiguration, with a timestamp),
//  * prints every configuration change with its new value (SubscribeToConfigurationUpdate),
//  * defers a deployment while it is busy (while the file its `lockFile` setting names exists in its work
//    directory) and lets it go ahead otherwise (SubscribeToComponentUpdates, DeferComponentUpdate).
//
// Run it as a component: `ggipc run --command com.example.ConfigLifecycleCpp=<this program>
// examples/recipes/com.example.ConfigLifecycleCpp.yaml`.

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <variant>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;

static const int kTimeoutSeconds = 10;
static const int64_t kDeferMs = 2000;

// The stream handlers only hand their events over; the main thread answers them.
using Event = std::variant<ConfigurationUpdateEvents, ComponentUpdatePolicyEvents>;
static std::mutex eventsMutex;
static std::condition_variable eventsReady;
static std::deque<Event> events;

static void Push(Event event) {
    std::lock_guard<std::mutex> lock(eventsMutex);
    events.push_back(std::move(event));
    eventsReady.notify_one();
}

class ConfigurationUpdateHandler : public SubscribeToConfigurationUpdateStreamHandler {
    void OnStreamEvent(ConfigurationUpdateEvents *response) override { Push(*response); }
    bool OnStreamError(OperationError *error) override {
        std::cerr << "configuration stream: " << error->GetMessage().value_or("") << std::endl;
        return false; // keep the stream open
    }
};

class ComponentUpdateHandler : public SubscribeToComponentUpdatesStreamHandler {
    void OnStreamEvent(ComponentUpdatePolicyEvents *response) override { Push(*response); }
    bool OnStreamError(OperationError *error) override {
        std::cerr << "component update stream: " << error->GetMessage().value_or("") << std::endl;
        return false;
    }
};

class IpcClientLifecycleHandler : public ConnectionLifecycleHandler {};

// Waits for an operation's result; exits on a timeout or an error.
template <typename Operation> auto Await(Operation &operation, const char *what) {
    auto future = operation.GetResult();
    if (future.wait_for(std::chrono::seconds(kTimeoutSeconds)) == std::future_status::timeout) {
        std::cerr << what << " timed out" << std::endl;
        exit(-1);
    }
    auto result = future.get();
    if (!result) {
        if (result.GetResultType() == OPERATION_ERROR) {
            std::cerr << what << " failed: " << result.GetOperationError()->GetMessage().value_or("") << std::endl;
        } else {
            std::cerr << what << " failed: " << result.GetRpcError().StatusToString() << std::endl;
        }
        exit(-1);
    }
    return result;
}

// The value at a key path, as the nucleus answers it: `{"key": value}` for a leaf.
static std::string GetValue(GreengrassCoreIpcClient &ipcClient, const Vector<String> &keyPath) {
    GetConfigurationRequest request;
    request.SetKeyPath(keyPath);
    auto operation = ipcClient.NewGetConfiguration();
    operation.Activate(request, nullptr).wait();
    auto result = Await(operation, "GetConfiguration");
    return std::string(result.GetOperationResponse()->GetValue().value_or(JsonObject()).WriteCompact());
}

// The JSON text of the leaf `key` in a `{"key": value}` document.
static std::string Leaf(const std::string &document, const std::string &key) {
    std::string prefix = "{\"" + key + "\":";
    if (document.compare(0, prefix.size(), prefix) == 0 && document.back() == '}') {
        return document.substr(prefix.size(), document.size() - prefix.size() - 1);
    }
    return document;
}

static std::string Unquote(const std::string &json) {
    return json.size() >= 2 && json.front() == '"' ? json.substr(1, json.size() - 2) : json;
}

int main() {
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

    UpdateStateRequest stateRequest;
    stateRequest.SetState(REPORTED_LIFECYCLE_STATE_RUNNING);
    auto stateOperation = ipcClient.NewUpdateState();
    stateOperation.Activate(stateRequest, nullptr).wait();
    Await(stateOperation, "UpdateState");
    std::cout << "Reported state RUNNING" << std::endl;

    std::cout << "threshold: " << Leaf(GetValue(ipcClient, {"threshold"}), "threshold") << std::endl;

    auto started = std::chrono::system_clock::now();
    std::time_t startedSeconds = std::chrono::system_clock::to_time_t(started);
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&startedSeconds));
    UpdateConfigurationRequest updateRequest;
    updateRequest.SetKeyPath({"status"});
    updateRequest.SetTimestamp(started);
    updateRequest.SetValueToMerge(JsonObject(std::string("{\"lastStart\":\"") + iso + "\"}"));
    auto updateOperation = ipcClient.NewUpdateConfiguration();
    updateOperation.Activate(updateRequest, nullptr).wait();
    Await(updateOperation, "UpdateConfiguration");
    std::cout << "Updated status/lastStart" << std::endl;

    ConfigurationUpdateHandler configurationHandler;
    SubscribeToConfigurationUpdateRequest watchRequest;
    watchRequest.SetKeyPath({});
    auto watchOperation = ipcClient.NewSubscribeToConfigurationUpdate(configurationHandler);
    watchOperation.Activate(watchRequest, nullptr).wait();
    Await(watchOperation, "SubscribeToConfigurationUpdate");

    ComponentUpdateHandler updateHandler;
    auto updatesOperation = ipcClient.NewSubscribeToComponentUpdates(updateHandler);
    updatesOperation.Activate(SubscribeToComponentUpdatesRequest(), nullptr).wait();
    Await(updatesOperation, "SubscribeToComponentUpdates");
    std::cout << "Waiting for configuration changes and deployments" << std::endl;

    while (true) { // until the nucleus stops the component
        std::unique_lock<std::mutex> lock(eventsMutex);
        eventsReady.wait(lock, [] { return !events.empty(); });
        Event event = std::move(events.front());
        events.pop_front();
        lock.unlock();

        if (auto *change = std::get_if<ConfigurationUpdateEvents>(&event)) {
            auto keyPath = change->GetConfigurationUpdateEvent()->GetKeyPath().value_or(Vector<String>());
            std::string path;
            for (const auto &key : keyPath) {
                path += (path.empty() ? "" : "/") + key;
            }
            std::cout << "Configuration changed: " << path << " = "
                      << Leaf(GetValue(ipcClient, keyPath), keyPath.empty() ? "" : keyPath.back()) << std::endl;
        } else if (auto *update = std::get_if<ComponentUpdatePolicyEvents>(&event)) {
            if (update->GetPreUpdateEvent()) {
                String deployment = update->GetPreUpdateEvent()->GetDeploymentId().value_or("");
                std::string lockFile = Unquote(Leaf(GetValue(ipcClient, {"lockFile"}), "lockFile"));
                struct stat info;
                bool busy = stat(lockFile.c_str(), &info) == 0;
                DeferComponentUpdateRequest deferRequest;
                deferRequest.SetDeploymentId(deployment);
                if (busy) {
                    deferRequest.SetMessage("busy");
                }
                deferRequest.SetRecheckAfterMs(busy ? kDeferMs : 0);
                auto deferOperation = ipcClient.NewDeferComponentUpdate();
                deferOperation.Activate(deferRequest, nullptr).wait();
                Await(deferOperation, "DeferComponentUpdate");
                if (busy) {
                    std::cout << "Deferred deployment " << deployment << " by " << kDeferMs << " ms" << std::endl;
                } else {
                    std::cout << "Acknowledged deployment " << deployment << std::endl;
                }
            } else if (update->GetPostUpdateEvent()) {
                std::cout << "Deployment " << update->GetPostUpdateEvent()->GetDeploymentId().value_or("")
                          << " applied" << std::endl;
            }
        }
    }
}
