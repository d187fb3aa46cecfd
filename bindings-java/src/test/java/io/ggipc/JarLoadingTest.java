package io.ggipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Packs the built classes and the bundled native library into a jar (as {@code mvn package} does) and uses it
 * from a clean JVM: no {@code java.library.path}, no {@code ggipc.native.path}; the library must come out of the
 * jar.
 */
class JarLoadingTest {
    static Path classesDir() {
        // target/test-classes/.. /classes
        return Path.of(System.getProperty("ggipc.test.server")).getParent().resolve("classes");
    }

    static void jar(Path from, Path jar) throws IOException {
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o);
                Stream<Path> files = Files.walk(from)) {
            for (Path p : files.filter(Files::isRegularFile).collect(Collectors.toList())) {
                j.putNextEntry(new JarEntry(from.relativize(p).toString().replace('\\', '/')));
                Files.copy(p, j);
                j.closeEntry();
            }
        }
    }

    @Test
    void cleanJvmLoadsLibraryFromJar() throws Exception {
        Path dir = Files.createTempDirectory("ggipc-jar-");
        Path jar = dir.resolve("ggipc.jar");
        jar(classesDir(), jar);
        Path probe = Path.of(System.getProperty("ggipc.test.server")).getParent().resolve("test-classes");
        try (TestServer server = TestServer.start()) {
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", jar + java.io.File.pathSeparator + probe, "io.ggipc.LoadProbe")
                    .redirectErrorStream(true);
            pb.environment().put("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", server.socket);
            pb.environment().put("SVCUID", server.fullToken);
            pb.environment().remove("LD_LIBRARY_PATH");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            List<String> lines = out.lines().collect(Collectors.toList());
            assertTrue(lines.contains("loaded from jar:/native/linux-x86_64/libggipc_jni.so"), out);
            assertTrue(lines.contains("published"), out);
        } finally {
            Files.deleteIfExists(jar);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * A JVM whose platform the jar has no library for (here a riscv64 JVM, told so with {@code -Dos.arch}) gets
     * the loader's error naming its platform, os.name/os.arch, what the jar carries and the override, before any
     * connection is tried.
     */
    @Test
    void aJvmOfAnotherPlatformIsToldWhichPlatformIsMissing() throws Exception {
        Path dir = Files.createTempDirectory("ggipc-jar-");
        Path jar = dir.resolve("ggipc.jar");
        jar(classesDir(), jar);
        Path probe = Path.of(System.getProperty("ggipc.test.server")).getParent().resolve("test-classes");
        try {
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Dos.arch=riscv64", "-cp", jar + java.io.File.pathSeparator + probe, "io.ggipc.LoadProbe")
                    .redirectErrorStream(true);
            pb.environment().put("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", dir.resolve("none").toString());
            pb.environment().put("SVCUID", "unused");
            pb.environment().remove("LD_LIBRARY_PATH");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertNotEquals(0, p.exitValue(), out);
            // What the jar carries: linux-x86_64 from a plain build, all three from the release build.
            String carried = Stream.of("linux-x86_64", "linux-aarch64", "linux-armv7")
                    .filter(plat -> Files.exists(classesDir().resolve("native/" + plat + "/libggipc_jni.so")))
                    .collect(Collectors.joining(", "));
            assertFalse(carried.isEmpty(), "no native library in " + classesDir());
            assertTrue(out.contains("java.lang.UnsatisfiedLinkError: ggipc: this jar has no native library for "
                    + "linux-riscv64 (os.name=Linux, os.arch=riscv64); it carries " + carried + ". Set "
                    + "-Dggipc.native.path=/path/to/libggipc_jni.so"), out);
            assertFalse(out.contains("published"), out);
        } finally {
            Files.deleteIfExists(jar);
            Files.deleteIfExists(dir);
        }
    }
}
