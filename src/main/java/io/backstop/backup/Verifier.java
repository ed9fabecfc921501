package io.backstop.backup;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.catalog.BackupLayout;
import io.backstop.files.Hashing;
import io.backstop.pg.CountedTable;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Proves a dump is usable before it gets a final name: its table of contents lists TABLE
 * DATA for every counted table, and pg_restore reads the whole archive, decompressing every
 * data block ({@code pg_restore --list} alone reads only the header and accepts a truncated
 * file). For a fresh dump the full read runs while pg_dump writes; the sha256 of the final
 * file is computed alongside the TOC check.
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
        FullRead read = BackupLayout.isStreamed(dump) ? startFullRead(out -> {
            try (java.io.InputStream in = Archive.PLAIN.decompressed(dump)) {
                in.transferTo(out);
            }
        }, dump.getFileName().toString(), timeout) : startFullRead(dump, () -> true, timeout);
        return finish(dump, tables, timeout, failure, read, Optional.empty());
    }

    /** The full read of an archive that arrives through {@code feeder} (a zstd stream as it is written, or read). */
    public FullRead startFullRead(ProcessRunner.OutputStreamSource feeder, String name, Duration timeout) {
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(
                List.of(tools.pgRestore().toString(), "--file=/dev/null"), Map.of(), timeout)
                .withStdin(feeder).inBackground();
        return start(spec, name);
    }

    /**
     * Starts the full read of a file that pg_dump is still writing: a feeder follows the file
     * as it grows and pipes it into {@code pg_restore --file=/dev/null}, so decompressing every
     * data block happens on the spare core during the dump instead of after it. pg_dump -Fc
     * writes header, TOC and data in order and at the end rewrites the TOC in place (same
     * length), so the followed stream is a complete archive. {@link #finish} then checks the
     * final file's TOC and sha256 and waits for this read.
     */
    public FullRead startFullRead(Path file, BooleanSupplier writerDone, Duration timeout) {
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(
                List.of(tools.pgRestore().toString(), "--file=/dev/null"), Map.of(), timeout)
                .withStdin(out -> follow(file, writerDone, out)).inBackground();
        return start(spec, file.getFileName().toString());
    }

    private FullRead start(ProcessRunner.Spec spec, String name) {
        FullRead read = new FullRead();
        read.thread = Background.start("verify-" + name, () -> {
            try {
                read.result.complete(runner.run(spec, p -> { }));
            } catch (RuntimeException e) {
                read.result.completeExceptionally(e);
            }
        });
        return read;
    }

    /** A running full read; {@link #cancel} kills its pg_restore. */
    public static final class FullRead {
        private final CompletableFuture<ProcessRunner.Result> result = new CompletableFuture<>();
        private Thread thread;

        /** Kills the read and waits for it to let go of the file. */
        public void cancel() {
            thread.interrupt();
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        ProcessRunner.Result await() {
            try {
                return result.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw e;
            }
        }
    }

    /**
     * The checks of a finished file: TOC entries, the full read's outcome, and the sha256 ({@code
     * written}, when the file was hashed as it was written; else read from the file now).
     */
    public Verified finish(Path dump, Collection<CountedTable> tables, Duration timeout, ExitCode failure,
            FullRead read, Optional<String> written) {
        CompletableFuture<String> sha = written.isPresent() ? CompletableFuture.completedFuture(written.get())
                : Background.supply("sha256-" + dump.getFileName(), () -> Hashing.sha256(dump));
        Set<Long> present;
        try {
            present = tableDataOids(dump, timeout, failure);
        } catch (RuntimeException e) {
            read.cancel();
            throw e;
        }
        List<String> missing = new ArrayList<>();
        for (CountedTable table : tables) {
            if (!present.containsAll(table.dataOids())) {
                missing.add(table.name());
            }
        }
        if (!missing.isEmpty()) {
            read.cancel();
            throw new BackstopException(failure, "verification of " + dump.getFileName() + " failed: no TABLE DATA for "
                    + String.join(", ", missing) + " (excluded by pg-dump.extra-args, or the dump is incomplete)");
        }
        ProcessRunner.Result result = read.await();
        if (result.exitCode() != 0) {
            throw new BackstopException(failure, "verification of " + dump.getFileName()
                    + " failed: pg_restore could not read the whole archive (truncated or corrupt), exit code "
                    + result.exitCode() + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
        }
        return new Verified(sha.join(), present.size());
    }

    /** Copies {@code file} to {@code out} as it grows, until the writer is done and everything is copied. */
    private static void follow(Path file, BooleanSupplier writerDone, java.io.OutputStream out) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            byte[] chunk = new byte[1 << 20];
            ByteBuffer buffer = ByteBuffer.wrap(chunk);
            long position = 0;
            while (true) {
                boolean done = writerDone.getAsBoolean(); // read after checking: the last pass sees every byte
                buffer.clear();
                int n = ch.read(buffer, position);
                if (n > 0) {
                    out.write(chunk, 0, n);
                    position += n;
                } else if (done) {
                    return;
                } else {
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    private Set<Long> tableDataOids(Path dump, Duration timeout, ExitCode failure) {
        ByteArrayOutputStream toc = new ByteArrayOutputStream();
        ProcessRunner.Spec list = Archive.PLAIN.pgRestore(List.of(tools.pgRestore().toString(), "--list"), dump, Map.of(),
                timeout).withStdout(in -> in.transferTo(toc));
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


}
