// Benchmark client for the performance report: the ggipc C++ client (AWS SDK for C++ v2 surface).
//
//   ggipc-bench-report-cpp PAYLOAD SYNC_N PIPE_N EV_N
//
// Speaks the report's line protocol on stdin/stdout (READY, MARK, PUMP, RESULT; see bench/report/report.py).
// With GGIPC_BENCH_SERVICE=local it measures local pub/sub (PublishToTopic with a binary message,
// SubscribeToTopic) instead of the MQTT proxy (PublishToIoTCore at QoS 0, SubscribeToIoTCore).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <ggipc/greengrass.hpp>

using namespace ggipc::crt;
using namespace ggipc::greengrass;
using Clock = std::chrono::steady_clock;

namespace {

class Lifecycle : public ConnectionLifecycleHandler {};

struct Counter {
    void Hit() {
        auto now = Clock::now();
        std::lock_guard<std::mutex> g(m);
        if (count++ == 0) {
            first = now;
        }
        last = now;
    }
    std::mutex m;
    uint64_t count = 0;
    Clock::time_point first, last;
};

class MqttCounter : public SubscribeToIoTCoreStreamHandler {
  public:
    explicit MqttCounter(Counter &c) : c(c) {}
    void OnStreamEvent(IoTCoreMessage *) override { c.Hit(); }
    Counter &c;
};

class LocalCounter : public SubscribeToTopicStreamHandler {
  public:
    explicit LocalCounter(Counter &c) : c(c) {}
    void OnStreamEvent(SubscriptionResponseMessage *) override { c.Hit(); }
    Counter &c;
};

void Say(const std::string &s) { std::cout << s << std::endl; }

void WaitStdin() {
    std::string line;
    std::getline(std::cin, line);
}

double Pct(const std::vector<double> &sorted, double p) {
    return sorted.empty() ? 0 : sorted[static_cast<size_t>((sorted.size() - 1) * p + 0.5)];
}

PublishToIoTCoreRequest Pub(const std::string &topic, const std::vector<uint8_t> &payload) {
    PublishToIoTCoreRequest r;
    r.SetTopicName(String(topic));
    r.SetQos(QOS_AT_MOST_ONCE);
    r.SetPayload(payload);
    return r;
}

PublishToTopicRequest LocalPub(const std::string &topic, const std::vector<uint8_t> &payload) {
    BinaryMessage b;
    b.SetMessage(payload);
    PublishMessage m;
    m.SetBinaryMessage(b);
    PublishToTopicRequest r;
    r.SetTopic(String(topic));
    r.SetPublishMessage(m);
    return r;
}

// The sync publishes (latency of each into `lat`), then MARK, then the pipelined ones (256 in flight); returns the
// pipelined rate, or a negative value if a sync publish failed.
template <class NewOp, class MakeReq>
double Publishes(NewOp newOp, MakeReq makeReq, size_t syncN, size_t pipeN, std::vector<double> &lat) {
    for (size_t i = 0; i < syncN; i++) {
        auto t = Clock::now();
        auto op = newOp();
        op.Activate(makeReq(), nullptr);
        if (!op.GetResult().get()) {
            std::cerr << "publish failed" << std::endl;
            return -1;
        }
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    Say("MARK pipe_start");
    WaitStdin();
    auto t0 = Clock::now();
    std::deque<decltype(newOp())> window;
    for (size_t i = 0; i < pipeN; i++) {
        if (window.size() >= 256) {
            window.front().GetResult().get();
            window.pop_front();
        }
        window.push_back(newOp());
        window.back().Activate(makeReq(), nullptr);
    }
    for (auto &op : window) {
        op.GetResult().get();
    }
    return pipeN / std::chrono::duration<double>(Clock::now() - t0).count();
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 5) {
        std::cerr << "usage: ggipc-bench-report-cpp PAYLOAD SYNC_N PIPE_N EV_N" << std::endl;
        return 2;
    }
    const size_t size = std::strtoul(argv[1], nullptr, 10);
    const size_t syncN = std::strtoul(argv[2], nullptr, 10);
    const size_t pipeN = std::strtoul(argv[3], nullptr, 10);
    const size_t evN = std::strtoul(argv[4], nullptr, 10);
    std::vector<uint8_t> payload(size, 'x');
    ApiHandle apiHandle(g_allocator);
    Io::EventLoopGroup eventLoopGroup(1);
    Io::DefaultHostResolver socketResolver(eventLoopGroup, 64, 30);
    Io::ClientBootstrap bootstrap(eventLoopGroup, socketResolver);
    Lifecycle lifecycle;
    GreengrassCoreIpcClient ipc(bootstrap);
    auto status = ipc.Connect(lifecycle).get();
    if (!status) {
        std::cerr << "connect: " << status << std::endl;
        return 1;
    }
    const std::string pid = std::to_string(getpid());
    const std::string evTopic = "bench/ev/" + pid;
    const char *service = std::getenv("GGIPC_BENCH_SERVICE");
    const bool local = service != nullptr && std::string(service) == "local";
    Counter counter;
    MqttCounter mqttCounter(counter);
    LocalCounter localCounter(counter);
    std::optional<SubscribeToIoTCoreOperation> mqttSub;
    std::optional<SubscribeToTopicOperation> localSub;
    bool subscribed = false;
    if (local) {
        SubscribeToTopicRequest sreq;
        sreq.SetTopic(String(evTopic));
        localSub.emplace(ipc.NewSubscribeToTopic(localCounter));
        localSub->Activate(sreq, nullptr).wait();
        subscribed = static_cast<bool>(localSub->GetResult().get());
    } else {
        SubscribeToIoTCoreRequest sreq;
        sreq.SetTopicName(String(evTopic));
        sreq.SetQos(QOS_AT_MOST_ONCE);
        mqttSub.emplace(ipc.NewSubscribeToIoTCore(mqttCounter));
        mqttSub->Activate(sreq, nullptr).wait();
        subscribed = static_cast<bool>(mqttSub->GetResult().get());
    }
    if (!subscribed) {
        std::cerr << "subscribe failed" << std::endl;
        return 1;
    }
    Say("READY " + evTopic);
    WaitStdin();

    const std::string topic = "bench/s/" + pid;
    std::vector<double> lat;
    lat.reserve(syncN);
    const double pipeRate =
        local ? Publishes([&] { return ipc.NewPublishToTopic(); }, [&] { return LocalPub(topic, payload); }, syncN, pipeN, lat)
              : Publishes([&] { return ipc.NewPublishToIoTCore(); }, [&] { return Pub(topic, payload); }, syncN, pipeN, lat);
    if (pipeRate < 0) {
        return 1;
    }
    double total = 0;
    for (double l : lat) {
        total += l / 1e6;
    }
    std::sort(lat.begin(), lat.end());
    Say("MARK pipe_end");
    WaitStdin();

    Say("PUMP " + evTopic + " " + std::to_string(evN));
    uint64_t lastCount = 0;
    auto lastChange = Clock::now();
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        uint64_t n;
        {
            std::lock_guard<std::mutex> g(counter.m);
            n = counter.count;
        }
        if (n >= evN) {
            break;
        }
        auto idle = Clock::now() - lastChange;
        if (n != lastCount) {
            lastCount = n;
            lastChange = Clock::now();
        } else if ((n > 0 && idle > std::chrono::seconds(2)) || idle > std::chrono::seconds(30)) {
            break;
        }
    }
    uint64_t n;
    double evRate = 0;
    {
        std::lock_guard<std::mutex> g(counter.m);
        n = counter.count;
        if (n > 1 && counter.last > counter.first) {
            evRate = (n - 1) / std::chrono::duration<double>(counter.last - counter.first).count();
        }
    }
    unsigned threadsEnd = 0;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f) != nullptr) {
            if (std::sscanf(line, "Threads: %u", &threadsEnd) == 1) {
                break;
            }
        }
        std::fclose(f);
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "RESULT {\"threads_end\":%u,\"sync_per_s\":%f,\"p50_us\":%f,\"p90_us\":%f,\"p99_us\":%f,\"pipelined_per_s\":%f,"
                  "\"events_per_s\":%f,\"events_received\":%llu,\"events_sent\":%zu}",
                  threadsEnd, syncN / total, Pct(lat, 0.5), Pct(lat, 0.9), Pct(lat, 0.99), pipeRate, evRate,
                  static_cast<unsigned long long>(n), evN);
    Say(buf);
    std::_Exit(0);
}
