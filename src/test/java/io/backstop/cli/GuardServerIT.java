package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guard through the launcher and the user's warm guard server: the first call starts it and
 * is answered by a JVM of its own; later calls give the same answers through the server; it
 * answers nothing without its secret, lives in a private directory, and exits when the jar changes.
 */
class GuardServerIT {
    @TempDir
    Path dir;

    private Path runtime;
    private Path jar;

    private record Run(int status, String out) {
    }

    private Run guard(String stdin, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("./backstop", "guard"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("XDG_RUNTIME_DIR", runtime.toString());
        pb.environment().put("BACKSTOP_JAR", jar.toString());
        pb.environment().put("BACKSTOP_CONFIG", "/dev/null");
        pb.environment().remove("BACKSTOP_GUARD_SERVER");
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        return new Run(p.exitValue(), out);
    }

    private Path state() {
        return runtime.resolve("backstop-guard-" + uid() + "/server");
    }

    private static String uid() {
        try {
            return String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterEach
    void stopServer() throws IOException {
        if (Files.exists(state())) {
            long pid = Long.parseLong(Files.readString(state()).strip().split(" ")[2]);
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
        // A first call through a JVM of its own left the launcher dumping its class-data archive beside the
        // jar, in the background: the temporary directory is removed once that has ended (its list is gone).
        Fixtures.await("the launcher's class-data dump ended", Duration.ofMinutes(2), () -> {
            try (java.util.stream.Stream<Path> files = Files.list(dir)) {
                return files.noneMatch(f -> f.getFileName().toString().endsWith(".classlist"));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @Test
    void callsThroughTheServerAnswerAsAJvmOfTheirOwnDoes() throws Exception {
        runtime = Files.createDirectories(dir.resolve("run"));
        jar = Files.copy(Path.of("target/backstop.jar"), dir.resolve("backstop.jar"));
        String destructive = "{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"psql -c 'DROP TABLE users'\"}}";
        Run first = guard(destructive, "--hook");
        assertThat(first.out()).contains("\"permissionDecision\":\"ask\"", "sql-drop-table");
        Fixtures.await("the guard server's state file", Duration.ofMinutes(1), () -> Files.exists(state()));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state()))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state().getParent()))).isEqualTo("rwx------");
        long pid = Long.parseLong(Files.readString(state()).strip().split(" ")[2]);

        // Through the server now (its pid answers): the same verdicts, exit codes and silence.
        assertThat(guard(destructive, "--hook").out()).isEqualTo(first.out());
        assertThat(guard("{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls -la\"}}", "--hook").out()).isEmpty();
        Run argv = guard("", "psql", "-c", "TRUNCATE orders");
        assertThat(argv.status()).isEqualTo(10);
        assertThat(argv.out()).contains("ask: psql would run destructive SQL: TRUNCATE orders");
        Run blocked = guard("", "rm", "-rf", "./backups");
        assertThat(blocked.status()).isEqualTo(11);
        Run usage = guard("");
        assertThat(usage.status()).isEqualTo(2);
        assertThat(usage.out()).contains("no command to judge");
        Run batch = guard("{\"command\": \"ls\"}\n{\"command\": \"dropdb app\"}\n", "--batch");
        assertThat(batch.out().lines().toList()).hasSize(2);
        assertThat(batch.status()).isEqualTo(10);
        assertThat(ProcessHandle.of(pid)).as("the same server answered them all").isPresent();

        // Without the secret: no answer at all.
        String[] fields = Files.readString(state()).strip().split(" ");
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(fields[0]))) {
            s.getOutputStream().write("6\nwrong!1\n/\n".getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            assertThat(in.readAllBytes()).isEmpty();
        }

        // A new build: the server sees its jar change and goes; the next call is answered anyway.
        Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
        assertThat(guard(destructive, "--hook").out()).isEqualTo(first.out());
        Fixtures.await("the old server gone", Duration.ofMinutes(1), () -> ProcessHandle.of(pid).isEmpty());
    }
}
