package io.ggipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Compiles the seed's Java examples (examples/java) and runs them, as components would, against a server. */
class ExamplesTest {
    static TestServer server;
    static Path classes;

    @BeforeAll
    static void compile() throws Exception {
        server = TestServer.start();
        Path src = Path.of(System.getProperty("ggipc.examples.dir"));
        List<String> files;
        try (Stream<Path> s = Files.walk(src)) {
            // examples/java/forwarder is a Maven project of its own (tested by scripts/test-java.sh).
            files = s.filter(p -> p.toString().endsWith(".java") && !p.startsWith(src.resolve("forwarder")))
                    .map(Path::toString).collect(Collectors.toList());
        }
        // The two seed examples, the local pub/sub and connection-status ones (run as components by
        // examples/run-local-pubsub.sh) and the configuration-and-lifecycle one (examples/run_config_lifecycle.py).
        assertEquals(6, files.size(),
                "the two seed examples, the three local pub/sub ones and the configuration one: " + files);
        classes = Files.createTempDirectory("ggipc-examples-");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path")));
        args.addAll(files);
        assertEquals(0, javac.run(null, null, null, args.toArray(new String[0])), "examples compile unchanged");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    static Process run(String mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(classes + File.pathSeparator + System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", server.socket);
        pb.environment().put("SVCUID", server.fullToken);
        return pb.start();
    }

    static BlockingQueue<String> lines(Process p) {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    q.add(l);
                }
            } catch (Exception ignored) {
                // process ended
            }
        });
        t.setDaemon(true);
        t.start();
        return q;
    }

    static String await(BlockingQueue<String> q, String prefix) throws InterruptedException {
        List<String> seen = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String l = q.poll(1, TimeUnit.SECONDS);
            if (l != null) {
                seen.add(l);
                if (l.startsWith(prefix)) {
                    return l;
                }
            }
        }
        throw new AssertionError("no line starting with '" + prefix + "'; output: " + seen);
    }

    @Test
    void publishExample() throws Exception {
        Process p = run("com.aws.greengrass.docs.samples.ipc.PublishToIoTCore", "examples/pub", "Hello, World", "1");
        BlockingQueue<String> out = lines(p);
        assertEquals("Successfully published to topic: examples/pub", await(out, "Successfully"));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
    }

    @Test
    void subscribeExampleReceives() throws Exception {
        Process p = run("com.aws.greengrass.docs.samples.ipc.SubscribeToIoTCore", "examples/sub/+", "0");
        try {
            BlockingQueue<String> out = lines(p);
            assertEquals("Successfully subscribed to topic: examples/sub/+", await(out, "Successfully"));
            try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().withSocketPath(server.socket)
                    .withAuthToken(server.fullToken).build()) {
                ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("examples/sub/a")
                        .withQos(QOS.AT_MOST_ONCE).withPayload("hi there".getBytes(StandardCharsets.UTF_8)));
            }
            assertEquals("Received new message on topic examples/sub/a: hi there", await(out, "Received"));
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
