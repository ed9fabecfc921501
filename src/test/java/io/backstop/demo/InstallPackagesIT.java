package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.backstop.testing.Fixtures;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ./test's installer on a freshly booted Debian machine, where unattended upgrades hold dpkg's
 * lock: it waits for the lock instead of failing with apt's exit 100.
 */
class InstallPackagesIT {
    private static final Path FRONTEND_LOCK = Path.of("/var/lib/dpkg/lock-frontend");

    @TempDir
    Path dir;

    @Test
    void theInstallerWaitsForADpkgLockAnotherProcessHolds() throws Exception {
        assumeTrue(Fixtures.isRoot() && Files.exists(FRONTEND_LOCK), "needs root on a Debian machine (dpkg's lock)");
        Path log = dir.resolve("install.log");
        Process install;
        // apt takes the same fcntl lock the JDK's FileChannel.lock takes on Linux: this is "another dpkg".
        try (FileChannel channel = FileChannel.open(FRONTEND_LOCK, StandardOpenOption.WRITE);
                FileLock held = channel.lock()) {
            // make: installed already (./test needs it), so apt only has to get the lock to finish.
            install = new ProcessBuilder("bash", ".ci/install-packages", "make").redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            Fixtures.await("apt waiting for the lock", Duration.ofMinutes(2),
                    () -> read(log).contains("Waiting for cache lock") || !install.isAlive());
            assertThat(install.isAlive()).as("still waiting, not failed: " + read(log)).isTrue();
        }
        assertThat(install.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(install.exitValue()).as(read(log)).isZero();
        assertThat(read(log)).contains("make is already the newest version");
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
