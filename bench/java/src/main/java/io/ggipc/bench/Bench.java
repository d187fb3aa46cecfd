package io.ggipc.bench;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Side-by-side benchmark: {@code Bench <ggipc-test-server binary>} starts one server, then runs each client in its
 * own JVM ({@code Bench run ggipc|aws <socket> <token>}) against it, one after the other, and prints a table.
 *
 * <p>Per client: sync publish/s (one thread, QoS 0, 64-byte payload, for {@code SECONDS}); async pipelined
 * publish/s (up to {@code WINDOW} in flight); events/s into a handler (the server sends {@code EVENTS} messages
 * of 64 bytes as fast as the client takes them, with at most {@code BURST_WINDOW} unacknowledged — the handler
 * acknowledges every {@code ACK_EVERY} messages with an async publish); OS threads and Java threads the client created; heap used
 * after GC and RSS at the end.
 */
public final class Bench {
    static final double SECONDS = Double.parseDouble(System.getProperty("bench.seconds", "2"));
    /** Measurement rounds inside one JVM (best kept: the machine is shared, so the best is the least disturbed). */
    static final int ROUNDS = Integer.getInteger("bench.rounds", 3);
    /** JVMs per client, alternating ggipc / aws (best kept). */
    static final int RUNS = Integer.getInteger("bench.runs", 2);
    static final int WINDOW = Integer.getInteger("bench.window", 256);
    static final int EVENTS = Integer.getInteger("bench.events", 100_000);
    /** The server keeps at most this many burst messages unacknowledged (ggipc's queue holds 10 000). */
    static final int BURST_WINDOW = 5000;
    static final int ACK_EVERY = 1000;

    private Bench() {}

    public static void main(String[] args) throws Exception {
        if (args.length >= 1 && args[0].equals("run")) {
            run(args[1], args[2], args[3]);
            return;
        }
        if (args.length < 1) {
            System.err.println("usage: Bench <ggipc-test-server> | Bench run ggipc|aws <socket> <token>");
            System.exit(2);
        }
        drive(args[0]);
    }

    // ---------------------------------------------------------------- driver

    static void drive(String serverBinary) throws Exception {
        Path dir = Files.createTempDirectory("ggipc-bench-");
        String socket = dir.resolve("ipc.socket").toString();
        // The minimal broker accepts publishes and drops them: the server does as little as possible, so the
        // clients' own costs decide the comparison.
        Process server = new ProcessBuilder(serverBinary, socket, "--minimal-broker")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String ready = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            Matcher m = Pattern.compile("\"full\":\"([^\"]*)\"").matcher(ready == null ? "" : ready);
            if (!m.find()) {
                throw new IOException("server did not start: " + ready);
            }
            String token = m.group(1);
            Map<String, Map<String, String>> results = new LinkedHashMap<>();
            for (int run = 0; run < RUNS; run++) {
                for (String client : new String[] {"ggipc", "aws"}) {
                    Map<String, String> r = child(client, socket, token);
                    Map<String, String> best = results.get(client);
                    if (best == null) {
                        results.put(client, r);
                    } else {
                        for (String k : new String[] {"sync", "async", "events"}) {
                            if (Double.parseDouble(r.get(k)) > Double.parseDouble(best.get(k))) {
                                best.put(k, r.get(k));
                            }
                        }
                    }
                }
            }
            print(results);
        } finally {
            server.getOutputStream().close();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
            Files.deleteIfExists(Path.of(socket));
            Files.deleteIfExists(dir);
        }
    }

    static Map<String, String> child(String client, String socket, String token) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        for (String p : new String[] {"bench.seconds", "bench.window", "bench.events", "bench.rounds"}) {
            if (System.getProperty(p) != null) {
                cmd.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Bench.class.getName());
        cmd.addAll(List.of("run", client, socket, token));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Map<String, String> result = new LinkedHashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("RESULT ")) {
                    for (String kv : line.substring(7).split(" ")) {
                        String[] parts = kv.split("=", 2);
                        result.put(parts[0], parts[1]);
                    }
                } else {
                    System.err.println("[" + client + "] " + line);
                }
            }
        }
        if (p.waitFor() != 0 || result.isEmpty()) {
            throw new IOException(client + " run failed (exit " + p.exitValue() + ")");
        }
        return result;
    }

    static void print(Map<String, Map<String, String>> r) {
        String[][] rows = {
            {"sync publish/s", "sync"},
            {"async pipelined publish/s", "async"},
            {"events/s into handler", "events"},
            {"OS threads created", "osThreads"},
            {"Java threads started", "javaThreads"},
            {"heap used after GC (MiB)", "heapMiB"},
            {"RSS (MiB)", "rssMiB"},
            {"context switches/sync publish", "switches"},
        };
        System.out.printf("%-28s %14s %14s %8s%n", "metric", "ggipc", "aws-sdk-v2", "ratio");
        for (String[] row : rows) {
            String a = r.get("ggipc").get(row[1]);
            String b = r.get("aws").get(row[1]);
            double ratio = Double.parseDouble(a) / Math.max(1e-9, Double.parseDouble(b));
            System.out.printf("%-28s %14s %14s %8.2f%n", row[0], a, b, ratio);
        }
    }

    // ---------------------------------------------------------------- one client

    static long osThreads() {
        String[] tasks = new File("/proc/self/task").list();
        return tasks == null ? -1 : tasks.length;
    }

    static double rssMiB() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        return -1;
    }

    /** Voluntary and involuntary context switches of every thread of this process (its thread wake-ups). */
    static long contextSwitches() {
        long total = 0;
        String[] tasks = new File("/proc/self/task").list();
        if (tasks == null) {
            return -1;
        }
        for (String tid : tasks) {
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/task", tid, "status"))) {
                    if (l.startsWith("voluntary_ctxt_switches") || l.startsWith("nonvoluntary_ctxt_switches")) {
                        total += Long.parseLong(l.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (IOException gone) {
                // the thread ended meanwhile
            }
        }
        return total;
    }

    /** Context switches per synchronous publish over a fixed number of publishes. */
    static double syncSwitches(Target t, byte[] payload) throws Exception {
        final int n = 20_000;
        long before = contextSwitches();
        for (int i = 0; i < n; i++) {
            t.publishSync("bench/sync", payload);
        }
        return (contextSwitches() - before) / (double) n;
    }

    static double syncRate(Target t, byte[] payload) throws Exception {
        long n = 0;
        long start = System.nanoTime();
        long end = start + (long) (SECONDS * 1e9);
        while (System.nanoTime() < end) {
            t.publishSync("bench/sync", payload);
            n++;
        }
        return n / ((System.nanoTime() - start) / 1e9);
    }

    static double asyncRate(Target t, byte[] payload) throws Exception {
        Semaphore window = new Semaphore(WINDOW);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long n = 0;
        long start = System.nanoTime();
        long end = start + (long) (SECONDS * 1e9);
        while (System.nanoTime() < end) {
            window.acquire();
            t.publishAsync("bench/async", payload).whenComplete((r, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                window.release();
            });
            n++;
        }
        window.acquire(WINDOW);
        double rate = n / ((System.nanoTime() - start) / 1e9);
        window.release(WINDOW);
        if (failure.get() != null) {
            throw new IllegalStateException("async publish failed", failure.get());
        }
        return rate;
    }

    static void run(String client, String socket, String token) throws Exception {
        byte[] payload = new byte[64];
        long os0 = osThreads();
        long java0 = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount();
        try (Target t = client.equals("ggipc") ? new GgipcTarget(socket, token) : new AwsTarget(socket, token)) {
            // Warm up both paths (JIT, connection, buffers).
            long warm = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2000);
            while (System.nanoTime() < warm) {
                t.publishSync("bench/sync", payload);
                t.publishAsync("bench/async", payload).get(10, TimeUnit.SECONDS);
            }

            double sync = 0;
            double async = 0;
            for (int round = 0; round < ROUNDS; round++) {
                sync = Math.max(sync, syncRate(t, payload));
                async = Math.max(async, asyncRate(t, payload));
            }
            double switches = syncSwitches(t, payload);

            CountDownLatch all = new CountDownLatch(EVENTS);
            AtomicLong lastEvent = new AtomicLong();
            AtomicLong received = new AtomicLong();
            t.subscribe("bench/events", p -> {
                long n1 = received.incrementAndGet();
                if (n1 % ACK_EVERY == 0) {
                    // Flow control of the server's burst: at most BURST_WINDOW messages unacknowledged.
                    t.publishAsync("ggipc/test/ack", Long.toString(n1).getBytes(StandardCharsets.UTF_8));
                }
                lastEvent.set(System.nanoTime());
                all.countDown();
            });
            long start = System.nanoTime();
            t.publishSync("ggipc/test/burst",
                    (EVENTS + " 64 bench/events " + BURST_WINDOW).getBytes(StandardCharsets.UTF_8));
            if (!all.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException("received " + (EVENTS - all.getCount()) + " of " + EVENTS + " events");
            }
            double events = EVENTS / ((lastEvent.get() - start) / 1e9);

            long os1 = osThreads();
            long java1 = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount();
            System.gc();
            Thread.sleep(200);
            double heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / (1024.0 * 1024.0);
            System.out.printf("RESULT sync=%.0f async=%.0f events=%.0f osThreads=%d javaThreads=%d heapMiB=%.1f rssMiB=%.1f"
                    + " switches=%.2f%n", sync, async, events, os1 - os0, java1 - java0, heap, rssMiB(), switches);
        }
    }
}
