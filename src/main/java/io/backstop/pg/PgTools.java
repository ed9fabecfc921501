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
 * major, so newest is safest); else PATH. A backup takes the client of its server's own major
 * where one is installed ({@link #forServer}): its archive then restores with that server's own
 * pg_restore too, which a newer pg_dump's archive format would not.
 */
public final class PgTools {
    private static final Path DEBIAN_ROOT = Path.of("/usr/lib/postgresql");

    private final Path binDir;
    private final boolean configured;
    private final Path debianRoot;
    private volatile PgVersion dumpVersion;
    private final java.util.Map<Path, PgTools> byDir = new java.util.concurrent.ConcurrentHashMap<>();

    private PgTools(Path binDir, boolean configured) {
        this(binDir, configured, DEBIAN_ROOT);
    }

    private PgTools(Path binDir, boolean configured, Path debianRoot) {
        this.binDir = binDir;
        this.configured = configured;
        this.debianRoot = debianRoot;
    }

    /** As {@link #locate}, with the Debian-style clients looked for under {@code debianRoot} (tests). */
    static PgTools under(Path debianRoot) {
        return new PgTools(newestBin(debianRoot).orElse(null), false, debianRoot);
    }

    /**
     * The client for {@code server}: the configured directory when one is set; else the installed client of the
     * server's own major; else the newest (which refuses a server newer than itself, {@link #requireDumpCanRead}).
     */
    public PgTools forServer(PgVersion server) {
        if (configured || binDir == null) {
            return this;
        }
        Path own = debianRoot.resolve(server.majorText()).resolve("bin");
        if (own.equals(binDir) || !Files.isExecutable(own.resolve("pg_dump"))) {
            return this;
        }
        return byDir.computeIfAbsent(own, d -> new PgTools(d, false, debianRoot));
    }

    /** The directory the tools come from (null when none was found). */
    public Path binDir() {
        return binDir;
    }

    /** Every Debian-style client installed here, by major (e.g. "13", "15", "17"): what the start-up log lists. */
    public List<String> installedMajors() {
        if (configured || !Files.isDirectory(debianRoot)) {
            return binDir == null ? List.of() : List.of(dumpVersion().majorText());
        }
        try (Stream<Path> majors = Files.list(debianRoot)) {
            return majors.filter(p -> p.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/pg_dump")))
                    .sorted(Comparator.comparingDouble(p -> Double.parseDouble(p.getFileName().toString())))
                    .map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    public static PgTools locate(Optional<Path> configuredDir) {
        if (configuredDir.isPresent()) {
            return new PgTools(configuredDir.get(), true);
        }
        Optional<Path> debian = newestBin(DEBIAN_ROOT);
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

    private static Optional<Path> newestBin(Path root) {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> majors = Files.list(root)) {
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
            return Optional.of("is older than the server " + server + ", and no newer client is installed here: pg_dump"
                    + " only dumps servers up to its own major version. Build the Backstop image with --build-arg"
                    + " PG_MAJOR=" + server.majorText() + " (or newer), or install postgresql-client-" + server.majorText()
                    + " (it is found in /usr/lib/postgresql/" + server.majorText() + "/bin, or point"
                    + " backstop.pg-dump.bin-dir at it)");
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
