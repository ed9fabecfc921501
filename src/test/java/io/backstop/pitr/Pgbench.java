package io.backstop.pitr;

import io.backstop.testing.PgCluster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** pgbench writing to a database of {@code pg} in the background, as a test's write load. */
final class Pgbench implements AutoCloseable {
    private final Process process;

    private Pgbench(Process process) {
        this.process = process;
    }

    /** pgbench -i: its four tables, {@code scale} × 100,000 accounts. */
    static void initialise(PgCluster pg, String db, int scale) {
        run(pg, db, List.of("-i", "-q", "-s", Integer.toString(scale)));
    }

    /** Writes at about {@code tps} transactions a second (0: as fast as it can) until closed. */
    static Pgbench start(PgCluster pg, String db, int tps, Path log) throws IOException {
        List<String> args = new ArrayList<>(List.of("-n", "-c", "2", "-j", "1", "-T", "3600"));
        if (tps > 0) {
            args.addAll(List.of("-R", Integer.toString(tps)));
        }
        ProcessBuilder pb = builder(pg, db, args).redirectErrorStream(true).redirectOutput(log.toFile());
        return new Pgbench(pb.start());
    }

    private static ProcessBuilder builder(PgCluster pg, String db, List<String> args) {
        List<String> command = new ArrayList<>(List.of(pg.bin().resolve("pgbench").toString(), "-h", pg.host(), "-p",
                Integer.toString(pg.port()), "-U", PgCluster.SUPERUSER));
        command.addAll(args);
        command.add(db);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PGPASSWORD", pg.password());
        return pb;
    }

    private static void run(PgCluster pg, String db, List<String> args) {
        try {
            Process p = builder(pg, db, args).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                throw new IllegalStateException("pgbench " + args + " failed: " + out);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
