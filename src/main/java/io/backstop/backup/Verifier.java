package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.counts.CountedTable;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Proves a dump is usable before it gets a final name: its table of contents lists TABLE
 * DATA for every counted table, and pg_restore reads the whole archive, decompressing every
 * data block ({@code pg_restore --list} alone reads only the header and accepts a truncated
 * file). The sha256 is computed alongside the full read, on the other core.
 */
public final class Verifier {
    public static final String METHOD = "pg_restore full read to /dev/null + TOC TABLE DATA check";
    /** "3350; 0 16386 TABLE DATA public users postgres": TABLE DATA entries carry the table's OID. */
    private static final Pattern TABLE_DATA = Pattern.compile("^\\d+;\\s+\\d+\\s+(\\d+)\\s+TABLE DATA\\s");

    private final PgTools tools;
    private final ProcessRunner runner;

    public Verifier(PgTools tools, ProcessRunner runner) {
        this.tools = tools;
        this.runner = runner;
    }

    public record Verified(String sha256, int tableDataEntries) {
    }

    /**
     * Verifies {@code dump}; {@code failure} is the exit code a failure carries (a fresh dump
     * that fails is {@link ExitCode#DUMP_FAILED}, a stored one {@link ExitCode#BAD_BACKUP}).
     */
    public Verified verify(Path dump, Collection<CountedTable> tables, Duration timeout, ExitCode failure) {
        Set<Long> present = tableDataOids(dump, timeout, failure);
        List<String> missing = new ArrayList<>();
        for (CountedTable table : tables) {
            if (!present.containsAll(table.dataOids())) {
                missing.add(table.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new BackstopException(failure, "verification of " + dump.getFileName() + " failed: no TABLE DATA for "
                    + String.join(", ", missing) + " (excluded by pg-dump.extra-args, or the dump is incomplete)");
        }
        CompletableFuture<String> sha = CompletableFuture.supplyAsync(() -> sha256(dump),
                r -> named(r, "sha256-" + dump.getFileName()));
        ProcessRunner.Spec read = ProcessRunner.Spec.of(
                List.of(tools.pgRestore().toString(), "--file=/dev/null", dump.toString()), Map.of(), timeout);
        ProcessRunner.Result result = runner.run(read, p -> { });
        if (result.exitCode() != 0) {
            sha.cancel(true);
            throw new BackstopException(failure, "verification of " + dump.getFileName()
                    + " failed: pg_restore could not read the whole archive (truncated or corrupt), exit code "
                    + result.exitCode() + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
        }
        return new Verified(sha.join(), present.size());
    }

    private Set<Long> tableDataOids(Path dump, Duration timeout, ExitCode failure) {
        ByteArrayOutputStream toc = new ByteArrayOutputStream();
        ProcessRunner.Spec list = ProcessRunner.Spec.of(
                List.of(tools.pgRestore().toString(), "--list", dump.toString()), Map.of(), timeout)
                .withStdout(in -> in.transferTo(toc));
        ProcessRunner.Result result = runner.run(list, p -> { });
        if (result.exitCode() != 0) {
            throw new BackstopException(failure, "verification of " + dump.getFileName()
                    + " failed: pg_restore cannot read its table of contents (not a pg_dump custom-format archive,"
                    + " or damaged), exit code " + result.exitCode()
                    + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
        }
        Set<Long> oids = new HashSet<>();
        for (String line : toc.toString(StandardCharsets.UTF_8).split("\n")) {
            Matcher m = TABLE_DATA.matcher(line);
            if (m.find()) {
                oids.add(Long.parseLong(m.group(1)));
            }
        }
        return oids;
    }

    /** Hex sha256 of a file, read in 1 MiB chunks (a dump never passes through the heap whole). */
    public static String sha256(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
            while (ch.read(buffer) >= 0) {
                buffer.flip();
                digest.update(buffer);
                buffer.clear();
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw Durable.storageError("cannot read " + file, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

    private static void named(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

}
