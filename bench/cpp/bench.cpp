// SPDX-License-Identifier: Apache-2.0
// C++ benchmark of ggipc against a running nucleus (bench/cpp/run.sh starts one and runs the
// Rust client's benchmark beside it). Prints one line per figure:
//   cpp_sdk_sync_publish_per_s   PublishToIoTCore through the SDK surface, one at a time
//   cpp_c_sync_publish_per_s     the same through the C API (ggipc_client_publish_bytes)
//   cpp_c_seed_sync_publish_per_s
//                                the same through the seed's C API (ggipc_client_publish with a request
//                                object built once)
//   cpp_sdk_sync_wakeups_per_publish, cpp_c_sync_wakeups_per_publish, cpp_c_seed_sync_wakeups_per_publish
//                                voluntary context switches (thread wake-ups) of the whole process per
//                                synchronous publish (summed over /proc/self/task/*/status)
//   cpp_sdk_generated_call_wakeups_per_call
//                                the same for a generated operation's class (GetConfiguration, one at a
//                                time, answered "Key not found": a whole round trip)
//   cpp_events_per_s             IoTCoreMessage events delivered to a C++ stream handler while a
//                                second connection publishes with up to 128 publishes in flight
// Usage: bench_cpp SOCKET TOKEN [COUNT] [sync]   ("sync": the synchronous publish figures only)
// Each timed loop is a function of its own (SdkPublishLoop, CBytesPublishLoop, CSeedPublishLoop), so that
// `valgrind --tool=callgrind --toggle-collect='*PublishLoop*'` counts the instructions of one loop.
#include <ggipc/greengrass.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <mutex>
#include <string>

using namespace ggipc::crt;
using namespace ggipc::greengrass;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

/** Voluntary context switches of every thread of this process so far. */
long long VoluntarySwitches() {
    long long total = 0;
    DIR *dir = opendir("/proc/self/task");
    if (dir == nullptr) {
        return -1;
    }
    while (dirent *entry = readdir(dir)) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        const std::string path = std::string("/proc/self/task/") + entry->d_name + "/status";
        if (FILE *f = std::fopen(path.c_str(), "r")) {
            char line[256];
            while (std::fgets(line, sizeof line, f) != nullptr) {
                long long n = 0;
                if (std::sscanf(line, "voluntary_ctxt_switches: %lld", &n) == 1) {
                    total += n;
                }
            }
            std::fclose(f);
        }
    }
    closedir(dir);
    return total;
}

class Counter : public SubscribeToIoTCoreStreamHandler {
  public:
    std::mutex mu;
    std::condition_variable cv;
    long count = 0;
    void OnStreamEvent(IoTCoreMessage *) override {
        std::lock_guard<std::mutex> lock(mu);
        ++count;
        cv.notify_all();
    }
};

struct Window {
    std::mutex mu;
    std::condition_variable cv;
    int inFlight = 0;
    long failures = 0;
};

void Done(void *userdata, const ggipc_error *error) {
    auto *w = static_cast<Window *>(userdata);
    std::lock_guard<std::mutex> lock(w->mu);
    --w->inFlight;
    if (error != nullptr) {
        ++w->failures;
    }
    w->cv.notify_all();
}

class Quiet : public ConnectionLifecycleHandler {};

/** `count` publishes through the SDK surface, one at a time, as the SDK's C++ example does them. */
__attribute__((noinline)) bool SdkPublishLoop(GreengrassCoreIpcClient &client, const PublishToIoTCoreRequest &request,
                                              long count) {
    for (long i = 0; i < count; ++i) {
        PublishToIoTCoreOperation operation = client.NewPublishToIoTCore();
        operation.Activate(request, nullptr).wait();
        if (!operation.GetResult().get()) {
            return false;
        }
    }
    return true;
}

/** `count` publishes through `ggipc_client_publish_bytes`. */
__attribute__((noinline)) bool CBytesPublishLoop(const ggipc_client *c, const Vector<uint8_t> &payload, long count) {
    for (long i = 0; i < count; ++i) {
        ggipc_error *e =
            ggipc_client_publish_bytes(c, "bench/sync", GGIPC_QOS_AT_MOST_ONCE, payload.data(), payload.size());
        if (e != nullptr) {
            std::fprintf(stderr, "publish failed: %s\n", ggipc_error_get_message(e));
            ggipc_error_free(e);
            return false;
        }
    }
    return true;
}

/** `count` publishes through the seed's `ggipc_client_publish` with one request object. */
__attribute__((noinline)) bool CSeedPublishLoop(const ggipc_client *c, const ggipc_publish_request *req, long count) {
    for (long i = 0; i < count; ++i) {
        ggipc_error *e = ggipc_client_publish(c, req, 0);
        if (e != nullptr) {
            std::fprintf(stderr, "publish failed: %s\n", ggipc_error_get_message(e));
            ggipc_error_free(e);
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s SOCKET TOKEN [COUNT]\n", argv[0]);
        return 2;
    }
    const long count = argc > 3 ? std::atol(argv[3]) : 20000;
    const bool syncOnly = argc > 4 && std::strcmp(argv[4], "sync") == 0;
    ConnectionConfig config;
    config.SetSocketPath(argv[1]);
    config.SetAuthToken(argv[2]);

    ApiHandle apiHandle(g_allocator);
    Io::EventLoopGroup eventLoopGroup(1);
    Io::DefaultHostResolver socketResolver(eventLoopGroup, 64, 30);
    Io::ClientBootstrap bootstrap(eventLoopGroup, socketResolver);
    Quiet lifecycle;
    GreengrassCoreIpcClient client(bootstrap);
    GreengrassCoreIpcClient subscriber(bootstrap);
    if (!client.Connect(lifecycle, config).get() || !subscriber.Connect(lifecycle, config).get()) {
        std::fprintf(stderr, "connect failed\n");
        return 1;
    }

    PublishToIoTCoreRequest request;
    request.SetTopicName("bench/sync");
    request.SetPayload(Vector<uint8_t>(64, 'x'));
    request.SetQos(QOS_AT_MOST_ONCE);
    // Warm-up: at least 500 publishes and 0.3 s (as the Rust side does). Pinned to one CPU, the first figure of
    // the process ran at about half the speed of the same loop run later, after only 500 warm-up publishes.
    const auto warmStart = Clock::now();
    for (int i = 0; i < 500 || Seconds(warmStart) < 0.3; ++i) {
        auto op = client.NewPublishToIoTCore();
        op.Activate(request);
        if (!op.GetResult().get()) {
            std::fprintf(stderr, "publish failed\n");
            return 1;
        }
    }
    auto switches = VoluntarySwitches();
    auto start = Clock::now();
    if (!SdkPublishLoop(client, request, count)) {
        std::fprintf(stderr, "publish failed\n");
        return 1;
    }
    std::printf("cpp_sdk_sync_publish_per_s %.0f\n", static_cast<double>(count) / Seconds(start));
    std::printf("cpp_sdk_sync_wakeups_per_publish %.2f\n",
                static_cast<double>(VoluntarySwitches() - switches) / static_cast<double>(count));

    const ggipc_client *c = client.GetCClient();
    const Vector<uint8_t> payload(64, 'x');
    switches = VoluntarySwitches();
    start = Clock::now();
    if (!CBytesPublishLoop(c, payload, count)) {
        return 1;
    }
    std::printf("cpp_c_sync_publish_per_s %.0f\n", static_cast<double>(count) / Seconds(start));
    std::printf("cpp_c_sync_wakeups_per_publish %.2f\n",
                static_cast<double>(VoluntarySwitches() - switches) / static_cast<double>(count));

    ggipc_publish_request *seed = nullptr;
    if (ggipc_error *e = ggipc_publish_request_new("bench/sync", GGIPC_QOS_AT_MOST_ONCE, payload.data(), payload.size(), &seed)) {
        ggipc_error_free(e);
        return 1;
    }
    switches = VoluntarySwitches();
    start = Clock::now();
    const bool seedOk = CSeedPublishLoop(c, seed, count);
    const double seedSeconds = Seconds(start);
    ggipc_publish_request_free(seed);
    if (!seedOk) {
        return 1;
    }
    std::printf("cpp_c_seed_sync_publish_per_s %.0f\n", static_cast<double>(count) / seedSeconds);
    std::printf("cpp_c_seed_sync_wakeups_per_publish %.2f\n",
                static_cast<double>(VoluntarySwitches() - switches) / static_cast<double>(count));
    if (syncOnly) {
        return 0;
    }

    GetConfigurationRequest get;
    get.SetKeyPath({"bench"});
    const long calls = count / 4 > 0 ? count / 4 : 1;
    switches = VoluntarySwitches();
    for (long i = 0; i < calls; ++i) {
        GetConfigurationOperation operation = client.NewGetConfiguration();
        operation.Activate(get, nullptr).wait();
        auto result = operation.GetResult().get();
        if (result.GetResultType() != OPERATION_ERROR) {
            std::fprintf(stderr, "GetConfiguration: expected the nucleus' ResourceNotFoundError\n");
            return 1;
        }
    }
    std::printf("cpp_sdk_generated_call_wakeups_per_call %.2f\n",
                static_cast<double>(VoluntarySwitches() - switches) / static_cast<double>(calls));

    Counter counter;
    SubscribeToIoTCoreRequest subscribe;
    subscribe.SetTopicName("bench/events/#");
    subscribe.SetQos(QOS_AT_MOST_ONCE);
    auto subscription = subscriber.NewSubscribeToIoTCore(counter);
    subscription.Activate(subscribe).wait();
    if (!subscription.GetResult().get()) {
        std::fprintf(stderr, "subscribe failed\n");
        return 1;
    }
    ggipc_publish_request *req = nullptr;
    ggipc_error *e = ggipc_publish_request_new("bench/events/x", GGIPC_QOS_AT_MOST_ONCE, payload.data(), payload.size(), &req);
    if (e != nullptr) {
        ggipc_error_free(e);
        return 1;
    }
    Window window;
    start = Clock::now();
    for (long i = 0; i < count; ++i) {
        {
            std::unique_lock<std::mutex> lock(window.mu);
            window.cv.wait(lock, [&] { return window.inFlight < 128; });
            ++window.inFlight;
        }
        e = ggipc_client_publish_async(c, req, Done, &window, nullptr);
        if (e != nullptr) {
            ggipc_error_free(e);
            return 1;
        }
    }
    bool complete;
    {
        std::unique_lock<std::mutex> lock(counter.mu);
        complete = counter.cv.wait_for(lock, std::chrono::seconds(60), [&] { return counter.count >= count; });
    }
    const double elapsed = Seconds(start);
    {
        std::unique_lock<std::mutex> lock(window.mu);
        window.cv.wait(lock, [&] { return window.inFlight == 0; });
    }
    ggipc_publish_request_free(req);
    if (!complete || window.failures != 0) {
        std::fprintf(stderr, "events: got %ld of %ld (%ld publish failures)\n", counter.count, count, window.failures);
        return 1;
    }
    std::printf("cpp_events_per_s %.0f\n", static_cast<double>(count) / elapsed);
    return 0;
}
