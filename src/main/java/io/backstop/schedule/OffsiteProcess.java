package io.backstop.schedule;

import io.backstop.Background;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.offsite.Offsite;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The daemon's offsite syncs, each in a JVM of its own ({@code backstop offsite --target T --json}).
 * The daemon is sized for a sidecar (C1 only, a 64 MB heap): the S3 client, TLS, SHA-256 and age
 * encryption run several times faster with the full compiler, and their classes and buffers never
 * stay in the daemon's resident memory. The child gets the daemon's environment and configuration
 * file, and its {@code -D} properties (a trust store, a proxy); no secret is ever on its command
 * line. Its log lines go where the daemon's go.
 */
public final class OffsiteProcess {
    /**
     * The one-shot commands' flags (see ./backstop): full tiered compilation, with the JDK's ciphers
     * and TLS compiled early (they move every byte of a copy), and a bounded heap.
     */
    private static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-Xss512k", "-XX:MaxRAM=256m",
            "-XX:MaxRAMPercentage=50", "-XX:ReservedCodeCacheSize=32m", "-XX:CICompilerCount=2", "-Xshare:auto",
            "-XX:CompileCommand=quiet", "-XX:CompileCommand=CompileThresholdScaling,com.sun.crypto.provider.*::*,0.05",
            "-XX:CompileCommand=CompileThresholdScaling,sun.security.ssl.*::*,0.05");

    private static final String ERROR_PREFIX = "backstop: error: ";

    private final Map<String, String> env;
    private final Optional<Path> configFile;
    private final Duration timeout;
    private final ObjectMapper json;
    private final java.util.Set<Process> running = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public OffsiteProcess(Map<String, String> env, Optional<Path> configFile, Duration timeout, ObjectMapper json) {
        this.env = Map.copyOf(env);
        this.configFile = configFile;
        this.timeout = timeout;
        this.json = json;
    }

    List<String> command(String target) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_FLAGS);
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-D")) {
                command.add(arg);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.backstop.Main", "offsite",
                "--target", target, "--json", "--verbose"));
        configFile.ifPresent(f -> command.addAll(List.of("--config", f.toString())));
        return command;
    }

    /** One sync of {@code target}; the child's failure comes back as its exit code and its error line. */
    public Offsite.Status sync(String target) {
        ProcessBuilder pb = new ProcessBuilder(command(target))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new BackstopException(ExitCode.INTERNAL, "cannot start the offsite copy of " + target + ": "
                    + e.getMessage(), e);
        }
        running.add(p);
        String[] error = new String[1];
        Thread stderr = Background.start("offsite-" + target + "-log", () -> {
            // The child's log lines, on to the daemon's stderr; its error line kept for the failure.
            try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    if (line.startsWith(ERROR_PREFIX)) {
                        error[0] = line.substring(ERROR_PREFIX.length());
                    } else {
                        System.err.println(line);
                    }
                }
            } catch (IOException e) {
                // the child is gone
            }
        });
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new BackstopException(ExitCode.OFFSITE, "the offsite copy of " + target + " ran longer than "
                        + timeout + " and was stopped");
            }
            stderr.join(TimeUnit.SECONDS.toMillis(10));
            if (p.exitValue() != 0) {
                int status = p.exitValue();
                ExitCode code = java.util.Arrays.stream(ExitCode.values()).filter(c -> c.status() == status)
                        .findFirst().orElse(ExitCode.OFFSITE);
                throw new BackstopException(code, error[0] != null ? error[0]
                        : "the offsite copy of " + target + " exited with " + status);
            }
            JsonNode result = json.readTree(new String(out, StandardCharsets.UTF_8).strip());
            return new Offsite.Status(result.get("uploaded").asInt(), result.get("copied").asInt(),
                    result.get("bytes").asLong(), result.get("deleted").asInt(), result.get("locked").asInt(),
                    Instant.parse(result.get("at").asText()));
        } catch (IOException e) {
            throw new BackstopException(ExitCode.INTERNAL, "the offsite copy of " + target + " answered what is not"
                    + " its JSON summary: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "the offsite copy of " + target + " was stopped");
        } finally {
            running.remove(p);
        }
    }

    /** Shutdown: the children are told to stop (an upload is aborted; nothing partial stays visible). */
    public void stop() {
        running.forEach(Process::destroy);
    }
}
