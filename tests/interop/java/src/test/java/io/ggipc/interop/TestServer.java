package io.ggipc.interop;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code ggipc-test-server} (built with the native library) on a socket in a fresh temporary directory.
 * Component {@code full} may use every topic, {@code limited} only {@code allowed/#}.
 */
public final class TestServer implements AutoCloseable {
    public final Path dir;
    public final String socket;
    public final String fullToken;
    public final String limitedToken;
    private final Process process;

    private TestServer(Path dir, Process process, String socket, String full, String limited) {
        this.dir = dir;
        this.process = process;
        this.socket = socket;
        this.fullToken = full;
        this.limitedToken = limited;
    }

    public static String binary() {
        String bin = System.getProperty("ggipc.test.server");
        if (bin == null) {
            throw new IllegalStateException("system property ggipc.test.server is not set (run through Maven)");
        }
        return bin;
    }

    public static TestServer start() throws IOException {
        Path dir = Files.createTempDirectory("ggipc-test-");
        String socket = dir.resolve("ipc.socket").toString();
        Process p = new ProcessBuilder(binary(), socket).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null) {
            p.destroyForcibly();
            throw new IOException("ggipc-test-server exited before it was ready");
        }
        return new TestServer(dir, p, socket, field(line, "full"), field(line, "limited"));
    }

    static String field(String json, String name) throws IOException {
        Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]*)\"").matcher(json);
        if (!m.find()) {
            throw new IOException("no " + name + " in " + json);
        }
        return m.group(1);
    }

    /** Whether the server process is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() throws IOException {
        process.getOutputStream().close();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(Path.of(socket));
        Files.deleteIfExists(dir);
    }
}
