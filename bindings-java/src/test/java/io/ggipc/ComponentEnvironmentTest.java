package io.ggipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@code IPCUtils} and the V2 builder take the component's environment from the core (an empty variable is not
 * set), with the exception types and messages they always had. Each case runs {@link EnvProbe} in a child JVM,
 * since a JVM cannot change its own environment.
 */
class ComponentEnvironmentTest {
    static final String SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT";
    static final String V2_MISSING = "V2: java.io.IOException: no socket path or auth token: set them on the builder"
            + " or run as a component (" + SOCKET_ENV + ", SVCUID)";

    static List<String> probe(Map<String, String> env) throws Exception {
        Path build = Path.of(System.getProperty("ggipc.test.server")).getParent();
        String cp = build.resolve("classes") + java.io.File.pathSeparator + build.resolve("test-classes");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", cp, "io.ggipc.EnvProbe").redirectErrorStream(true);
        pb.environment().remove(SOCKET_ENV);
        pb.environment().remove("SVCUID");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        return out.lines().filter(l -> l.startsWith("IPCUtils: ") || l.startsWith("V2: "))
                .collect(Collectors.toList());
    }

    @Test
    void anEmptyTokenIsMissing() throws Exception {
        List<String> lines = probe(Map.of(SOCKET_ENV, "/nonexistent/ipc.socket", "SVCUID", ""));
        assertEquals(List.of("IPCUtils: io.ggipc.eventstreamrpc.ConnectionFailedException: SVCUID is not set: not"
                + " running as a Greengrass component", V2_MISSING), lines);
    }

    @Test
    void anEmptySocketPathIsMissing() throws Exception {
        List<String> lines = probe(Map.of(SOCKET_ENV, "", "SVCUID", "token"));
        assertEquals(List.of("IPCUtils: io.ggipc.eventstreamrpc.ConnectionFailedException: " + SOCKET_ENV
                + " is not set: not running as a Greengrass component", V2_MISSING), lines);
    }

    @Test
    void theEnvironmentConnects() throws Exception {
        try (TestServer server = TestServer.start()) {
            List<String> lines = probe(Map.of(SOCKET_ENV, server.socket, "SVCUID", server.fullToken));
            assertEquals(List.of("IPCUtils: connected", "V2: connected"), lines);
        }
    }
}
