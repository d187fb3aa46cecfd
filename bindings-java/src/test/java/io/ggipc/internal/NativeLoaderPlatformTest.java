package io.ggipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The jar's {@code native/<platform>/} directory names for the os.name/os.arch values JVMs report. */
class NativeLoaderPlatformTest {
    @Test
    void mapsTheReleaseArchitectures() {
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "amd64"));
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "x86_64"));
        assertEquals("linux-aarch64", NativeLoader.platform("Linux", "aarch64"));
        assertEquals("linux-armv7", NativeLoader.platform("Linux", "arm"));
        assertEquals("linux-armv7", NativeLoader.platform("Linux", "armv7l"));
        assertEquals("osx-aarch64", NativeLoader.platform("Mac OS X", "aarch64"));
    }

    @Test
    void unknownArchitecturesKeepTheirName() {
        assertEquals("linux-riscv64", NativeLoader.platform("Linux", "riscv64"));
        assertEquals("windows-x86_64", NativeLoader.platform("Windows 11", "amd64"));
    }

    @Test
    void thisJvmsPlatformIsBundled() {
        // The build puts the host's library under native/<platform()>/ (pom.xml: ggipc.native.platform).
        assertTrue(NativeLoader.bundledPlatforms().contains(NativeLoader.platform()), NativeLoader.bundledPlatforms());
    }
}
