package io.backstop.pg;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds pg_dump and pg_restore and knows their version. The configured directory wins; else
 * the newest Debian-style /usr/lib/postgresql/N/bin (a client dumps servers up to its own
 * major, so newest is safest); else PATH.
 */
public final class PgTools {
    private static final Path DEBIAN_ROOT = Path.of("/usr/lib/postgresql");

    private final Path binDir;
    private final boolean configured;
    private volatile PgVersion dumpVersion;

    private PgTools(Path binDir, boolean configured) {
        this.binDir = binDir;
        this.configured = configured;
    }

    public static PgTools locate(Optional<Path> configuredDir) {
        if (configuredDir.isPresent()) {
            return new PgTools(configuredDir.get(), true);
        }
        Optional<Path> debian = newestDebianBin();
        if (debian.isPresent()) {
            return new PgTools(debian.get(), false);
        }
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "pg_dump"))) {
                return new PgTools(Path.of(dir), false);
            }
        }
        return new PgTools(null, false);
    }

    private static Optional<Path> newestDebianBin() {
        if (!Files.isDirectory(DEBIAN_ROOT)) {
            return Optional.empty();
        }
        try (Stream<Path> majors = Files.list(DEBIAN_ROOT)) {
            return majors.filter(p -> p.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/pg_dump")))
                    .max(Comparator.comparingDouble(p -> Double.parseDouble(p.getFileName().toString())))
                    .map(p -> p.resolve("bin"));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public Path pgDump() {
        return tool("pg_dump");
    }

    public Path pgRestore() {
        return tool("pg_restore");
    }

    public Path tool(String name) {
        if (binDir == null) {
            throw new BackstopException(ExitCode.TOOLS, name + " not found: no /usr/lib/postgresql/*/bin and none on PATH;"
                    + " install the PostgreSQL client (same major as the server or newer) or set backstop.pg-dump.bin-dir");
        }
        Path tool = binDir.resolve(name);
        if (!Files.isExecutable(tool)) {
            throw new BackstopException(ExitCode.TOOLS, name + " not found at " + tool
                    + (configured ? " (backstop.pg-dump.bin-dir = \"" + binDir + "\")" : "")
                    + "; allowed: a directory holding pg_dump and pg_restore of the server's major version or newer");
        }
        return tool;
    }

    /** pg_dump's version, asked once. */
    public PgVersion dumpVersion() {
        PgVersion v = dumpVersion;
        if (v == null) {
            v = versionOf(pgDump());
            dumpVersion = v;
        }
        return v;
    }

    /** Refuses when the local pg_dump cannot dump this server (pg_dump refuses newer servers). */
    public void requireDumpCanRead(PgVersion server) {
        dumpCannotRead(dumpVersion(), server).ifPresent(why -> {
            throw new BackstopException(ExitCode.TOOLS, "pg_dump " + dumpVersion() + " (" + pgDump() + ") " + why);
        });
    }

    /** Oldest server a current pg_dump dumps (pg_dump 15 and later: 9.2). */
    static final PgVersion OLDEST_DUMPABLE = PgVersion.fromVersionNum(90200);

    /** Why pg_dump {@code dump} cannot dump server {@code server}; empty when it can. */
    static Optional<String> dumpCannotRead(PgVersion dump, PgVersion server) {
        if (dump.major() < server.major()) {
            return Optional.of("is older than the server " + server + ": pg_dump only dumps servers up to its own major"
                    + " version. Install the PostgreSQL " + server.majorText() + " client (or newer) and point"
                    + " backstop.pg-dump.bin-dir at it, or use the Backstop image built with PG_MAJOR="
                    + server.majorText() + " or newer");
        }
        if (server.major() < OLDEST_DUMPABLE.major() && dump.major() >= 1500) {
            return Optional.of("does not dump servers older than " + OLDEST_DUMPABLE.majorText() + " (this one is "
                    + server + "); use a pg_dump of that era (backstop.pg-dump.bin-dir)");
        }
        return Optional.empty();
    }

    private static PgVersion versionOf(Path tool) {
        ProcessRunner runner = new ProcessRunner();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(tool.toString(), "--version"), Map.of(), Duration.ofSeconds(30))
                .withStdout(in -> in.transferTo(out));
        ProcessRunner.Result result = runner.run(spec, p -> { });
        String text = out.toString(StandardCharsets.UTF_8);
        if (result.exitCode() != 0) {
            throw runner.failure(spec, result, ExitCode.TOOLS);
        }
        try {
            return PgVersion.fromToolOutput(text);
        } catch (IllegalArgumentException e) {
            throw new BackstopException(ExitCode.TOOLS, tool + " --version printed no PostgreSQL version: " + text.strip(), e);
        }
    }
}
