package benchreport;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClientV2;
import software.amazon.awssdk.aws.greengrass.model.BinaryMessage;
import software.amazon.awssdk.aws.greengrass.model.PublishMessage;
import software.amazon.awssdk.aws.greengrass.model.PublishToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.PublishToTopicRequest;
import software.amazon.awssdk.aws.greengrass.model.QOS;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToTopicRequest;

/**
 * Benchmark client for the performance report: GreengrassCoreIPCClientV2, written against the official SDK's
 * names; the ggipc build only swaps the package names. Usage: {@code JavaClient PAYLOAD SYNC_N PIPE_N EV_N};
 * speaks the report's line protocol (READY, MARK, PUMP, RESULT). With {@code GGIPC_BENCH_SERVICE=local} it
 * measures local pub/sub (PublishToTopic with a binary message, SubscribeToTopic) instead of the MQTT proxy.
 */
public final class JavaClient {
    static final int WINDOW = 256;
    static long count;
    static long first;
    static long last;

    static void say(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static double pct(double[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.round((sorted.length - 1) * p)];
    }

    static PublishToTopicRequest localRequest(String topic, byte[] payload) {
        return new PublishToTopicRequest().withTopic(topic)
                .withPublishMessage(new PublishMessage().withBinaryMessage(new BinaryMessage().withMessage(payload)));
    }

    public static void main(String[] args) throws Exception {
        int size = Integer.parseInt(args[0]);
        int syncN = Integer.parseInt(args[1]);
        int pipeN = Integer.parseInt(args[2]);
        int evN = Integer.parseInt(args[3]);
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'x');
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        long pid = ProcessHandle.current().pid();
        GreengrassCoreIPCClientV2 c = GreengrassCoreIPCClientV2.builder().build();
        Object lock = new Object();
        String evTopic = "bench/ev/" + pid;
        boolean local = "local".equals(System.getenv("GGIPC_BENCH_SERVICE"));
        Consumer<Object> counter = e -> {
            long now = System.nanoTime();
            synchronized (lock) {
                if (count++ == 0) {
                    first = now;
                }
                last = now;
            }
        };
        if (local) {
            c.subscribeToTopic(new SubscribeToTopicRequest().withTopic(evTopic), counter::accept, Optional.empty(),
                    Optional.empty());
        } else {
            c.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName(evTopic).withQos(QOS.AT_MOST_ONCE),
                    counter::accept, Optional.empty(), Optional.empty());
        }
        say("READY " + evTopic);
        in.readLine();

        String topic = "bench/s/" + pid;
        double[] lat = new double[syncN];
        for (int i = 0; i < syncN; i++) {
            long t = System.nanoTime();
            if (local) {
                c.publishToTopic(localRequest(topic, payload));
            } else {
                c.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName(topic).withQos(QOS.AT_MOST_ONCE)
                        .withPayload(payload));
            }
            lat[i] = (System.nanoTime() - t) / 1e3;
        }
        double total = Arrays.stream(lat).sum() / 1e6;
        Arrays.sort(lat);

        say("MARK pipe_start");
        in.readLine();
        long t0 = System.nanoTime();
        ArrayDeque<CompletableFuture<?>> window = new ArrayDeque<>();
        for (int i = 0; i < pipeN; i++) {
            if (window.size() >= WINDOW) {
                window.poll().get(30, TimeUnit.SECONDS);
            }
            window.add(local ? c.publishToTopicAsync(localRequest(topic, payload))
                    : c.publishToIoTCoreAsync(new PublishToIoTCoreRequest().withTopicName(topic)
                            .withQos(QOS.AT_MOST_ONCE).withPayload(payload)));
        }
        for (CompletableFuture<?> f : window) {
            f.get(30, TimeUnit.SECONDS);
        }
        double pipeRate = pipeN / ((System.nanoTime() - t0) / 1e9);
        say("MARK pipe_end");
        in.readLine();

        say("PUMP " + evTopic + " " + evN);
        long lastCount = 0;
        long lastChange = System.nanoTime();
        while (true) {
            Thread.sleep(20);
            long n;
            synchronized (lock) {
                n = count;
            }
            if (n >= evN) {
                break;
            }
            long idle = System.nanoTime() - lastChange;
            if (n != lastCount) {
                lastCount = n;
                lastChange = System.nanoTime();
            } else if ((n > 0 && idle > 2_000_000_000L) || idle > 30_000_000_000L) {
                break;
            }
        }
        long n;
        double evRate;
        synchronized (lock) {
            n = count;
            evRate = n > 1 && last > first ? (n - 1) / ((last - first) / 1e9) : 0;
        }
        long threadsEnd = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("Threads:")).mapToLong(l -> Long.parseLong(l.substring(8).trim()))
                .findFirst().orElse(0);
        say(String.format(java.util.Locale.ROOT, "RESULT {\"threads_end\":%d,\"sync_per_s\":%f,\"p50_us\":%f,\"p90_us\":%f,"
                + "\"p99_us\":%f,\"pipelined_per_s\":%f,\"events_per_s\":%f,\"events_received\":%d,"
                + "\"events_sent\":%d}", threadsEnd, syncN / total, pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pipeRate,
                evRate, n, evN));
        Runtime.getRuntime().halt(0);
    }
}
