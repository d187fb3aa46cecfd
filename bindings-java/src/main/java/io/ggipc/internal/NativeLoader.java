package io.ggipc.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Loads {@code libggipc_jni} once per class loader. Order: the file named by the system property
 * {@code ggipc.native.path}; then {@code System.loadLibrary("ggipc_jni")} (i.e. {@code java.library.path}); then the
 * copy bundled in the jar under {@code native/<os>-<arch>/}, extracted to a private temporary directory and loaded
 * from there.
 */
public final class NativeLoader {
    /** System property naming the native library file to load instead of the bundled one. */
    public static final String PATH_PROPERTY = "ggipc.native.path";
    static final String LIB_NAME = "ggipc_jni";

    private static final Object LOCK = new Object();
    private static volatile boolean loaded;
    private static volatile String loadedFrom;

    private NativeLoader() {}

    /** Loads the library if it is not loaded yet; throws {@link UnsatisfiedLinkError} if no way works. */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            loadedFrom = doLoad();
            loaded = true;
        }
    }

    /** Where the library was loaded from ({@code null} before {@link #load()}). */
    public static String loadedFrom() {
        return loadedFrom;
    }

    private static String doLoad() {
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null && !explicit.isEmpty()) {
            System.load(Path.of(explicit).toAbsolutePath().toString());
            return explicit;
        }
        UnsatisfiedLinkError fromPath;
        try {
            System.loadLibrary(LIB_NAME);
            return "java.library.path";
        } catch (UnsatisfiedLinkError e) {
            fromPath = e;
        }
        String platform = platform();
        String resource = "/native/" + platform + "/" + System.mapLibraryName(LIB_NAME);
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in == null) {
                UnsatisfiedLinkError err = new UnsatisfiedLinkError("ggipc: this jar has no native library for "
                        + platform + " (os.name=" + System.getProperty("os.name") + ", os.arch="
                        + System.getProperty("os.arch") + "); it carries " + bundledPlatforms()
                        + ". Set -D" + PATH_PROPERTY + "=/path/to/" + System.mapLibraryName(LIB_NAME)
                        + " to use a library built for this machine (looked for property " + PATH_PROPERTY
                        + ", java.library.path and resource " + resource + ")");
                err.addSuppressed(fromPath);
                throw err;
            }
            Path dir = Files.createTempDirectory("ggipc-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path file = dir.resolve(System.mapLibraryName(LIB_NAME));
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            try {
                System.load(file.toString());
            } catch (UnsatisfiedLinkError e) {
                // E.g. a glibc older than 2.17, or a soft-float (armel) JVM on an armhf build.
                UnsatisfiedLinkError err = new UnsatisfiedLinkError(
                        "ggipc: the bundled native library for " + platform + " does not load: " + e.getMessage());
                err.initCause(e);
                throw err;
            } finally {
                // The library stays mapped after its file is unlinked; nothing is left behind in the temp dir.
                Files.deleteIfExists(file);
                Files.deleteIfExists(dir);
            }
            return "jar:" + resource;
        } catch (IOException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("ggipc: cannot extract " + resource + ": " + e);
            err.initCause(e);
            throw err;
        }
    }

    /** Platforms a release jar may carry (see scripts/build-release.sh). */
    static final String[] KNOWN_PLATFORMS = {"linux-x86_64", "linux-aarch64", "linux-armv7"};

    /** The platforms of {@link #KNOWN_PLATFORMS} this jar has a native library for, for error messages. */
    static String bundledPlatforms() {
        StringBuilder b = new StringBuilder();
        for (String p : KNOWN_PLATFORMS) {
            if (NativeLoader.class.getResource("/native/" + p + "/" + System.mapLibraryName(LIB_NAME)) != null) {
                b.append(b.length() == 0 ? "" : ", ").append(p);
            }
        }
        return b.length() == 0 ? "no native library" : b.toString();
    }

    /**
     * {@code native/} subdirectory for this JVM: {@code linux-x86_64}, {@code linux-aarch64}, {@code linux-armv7}
     * (a 32-bit ARM JVM reports {@code os.arch=arm}), else {@code <os>-<os.arch>}.
     */
    static String platform() {
        return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        String o = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "windows" : "linux";
        String a;
        switch (arch) {
            case "amd64":
            case "x86_64":
                a = "x86_64";
                break;
            case "aarch64":
            case "arm64":
                a = "aarch64";
                break;
            case "arm":
            case "armv7":
            case "armv7l":
            case "armhf":
                a = "armv7";
                break;
            default:
                a = arch;
        }
        return o + "-" + a;
    }
}
