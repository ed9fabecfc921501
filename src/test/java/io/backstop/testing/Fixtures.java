package io.backstop.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/** Shared test data and small helpers for the integration tests. */
public final class Fixtures {
    private static String bigDatabase;

    private Fixtures() {
    }

    /** A database whose -Z9 dump takes seconds: long enough to interrupt. Created once, never modified. */
    public static synchronized String bigDatabase(PgCluster pg) {
        if (bigDatabase == null) {
            String db = pg.createDatabase("big");
            pg.execute(db, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload"
                    + " FROM generate_series(1, 1500000) g", "CREATE TABLE small(id int)",
                    "INSERT INTO small SELECT generate_series(1, 10)");
            bigDatabase = db;
        }
        return bigDatabase;
    }

    public static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /**
     * Every regular file below {@code dir}, sorted. A file that goes while it is listed (a running daemon's
     * temporary, renamed into place or removed) is left out, not an error.
     */
    public static List<Path> files(Path dir) {
        if (!Files.exists(dir)) {
            return List.of();
        }
        List<Path> files = new ArrayList<>();
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes a) {
                    if (a.isRegularFile()) {
                        files.add(f);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        files.sort(null);
        return files;
    }

    public static List<Path> temporaries(Path dir) {
        return files(dir).stream().filter(p -> p.getFileName().toString().startsWith(".backstop-tmp-")).toList();
    }

    public static List<Path> finalDumps(Path dir) {
        return files(dir).stream().filter(p -> io.backstop.catalog.BackupLayout.isDumpName(p.getFileName().toString())
                && !p.getFileName().toString().startsWith(".")).toList();
    }

    /** A target directory's latest link, whichever name it has (latest.dump, or latest.dump.zst for a zstd stream). */
    public static Path latest(Path targetDir) {
        Path zst = targetDir.resolve("latest.dump.zst");
        return Files.exists(zst, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? zst : targetDir.resolve("latest.dump");
    }

    /** Live processes whose command line contains {@code needle}, as (pid, cmdline). */
    public static List<Long> processesWith(String needle) {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (!p.getFileName().toString().matches("\\d+")) {
                    continue;
                }
                cmdline(p).filter(c -> c.contains(needle)).ifPresent(c -> pids.add(Long.parseLong(p.getFileName().toString())));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return pids;
    }

    public static Optional<String> cmdline(Path procDir) {
        try {
            return Optional.of(new String(Files.readAllBytes(procDir.resolve("cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' '));
        } catch (IOException e) {
            return Optional.empty(); // exited meanwhile
        }
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    public static void sh(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * What a server on 127.0.0.1:{@code port} answers {@code GET path} with (a node started as a process of its
     * own: its /health, /metrics, status page); empty while it does not listen.
     */
    public static Optional<String> httpGet(int port, String path) {
        try {
            return Optional.of(java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body());
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
