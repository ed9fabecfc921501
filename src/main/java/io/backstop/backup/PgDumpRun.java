package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.DigestingOutputStream;
import io.backstop.files.Durable;
import io.backstop.pg.Database;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** One run of pg_dump for a backup: its command line, its output, and its failures classified. */
final class PgDumpRun {
    /** The dump's application_name on the server, beside "backstop" for the connection that counts the rows. */
    public static final String APPLICATION_NAME = "backstop pg_dump";

    private final Settings settings;

    PgDumpRun(Settings settings) {
        this.settings = settings;
    }

    /** pg_dump's run: how long it took, and the file's sha256 when it was hashed as it was written. */
    record Dumped(Duration elapsed, Optional<String> sha256) {
    }

    /**
     * Runs pg_dump in {@code snapshot} into {@code tmp}: writing the file itself, or, with {@code tee}, to its
     * stdout, compressed here and handed to the verifier as it goes. Its failures in an operator's words.
     */
    Dumped dump(Target target, Database db, Database.PasswordFile passfile, ProcessRunner runner, Path pgDump,
            String snapshot, Path tmp, List<String> only, Compression compression, Tee tee) {
        List<String> command = new ArrayList<>(List.of(pgDump.toString(),
                "--format=custom",
                "--compress=" + compression.pgDumpArgument(),
                "--snapshot=" + snapshot,
                "--lock-wait-timeout=" + settings.pgDump().lockWaitTimeout().toMillis(),
                "--no-password"));
        if (tee == null) {
            command.add("--file=" + tmp); // else stdout (pg_dump has no "-" for it: that would be a file named -)
        }
        command.addAll(settings.pgDump().extraArgs());
        only.forEach(t -> command.add("--table=" + t));
        java.util.Map<String, String> env = new java.util.HashMap<>(db.libpqEnvironment(passfile, target.database()));
        env.put("PGAPPNAME", APPLICATION_NAME); // pg_stat_activity tells the dump from Backstop's own connection
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, env, settings.pgDump().timeout());
        IOException[] writeFailed = new IOException[1];
        List<Optional<String>> hashed = new ArrayList<>(List.of(Optional.empty()));
        if (tee != null) {
            spec = spec.withStdout(in -> {
                try {
                    hashed.set(0, compress(in, tmp, compression.zstdLevel(), tee));
                } catch (IOException e) {
                    writeFailed[0] = e;
                    in.transferTo(java.io.OutputStream.nullOutputStream());
                }
            });
        }
        ProcessRunner.Result result = runner.run(spec, p -> { });
        if (writeFailed[0] != null) {
            String why = String.valueOf(writeFailed[0].getMessage());
            if (why.contains("No space left on device") || why.contains("Disk quota exceeded")) {
                throw fullDisk(target, tmp, why);
            }
            throw Durable.storageError("backup of target " + target.name() + ": writing " + tmp.getFileName() + " failed",
                    writeFailed[0]);
        }
        if (result.exitCode() != 0) {
            throw classify(target, spec, result, runner, tmp);
        }
        return new Dumped(result.elapsed(), hashed.get(0));
    }

    /**
     * pg_dump's uncompressed archive, from its stdout: compressed with zstd into {@code tmp} and, the
     * same bytes, handed to the verifier. Two workers: pg_dump and the server use the rest. Returns
     * the file's sha256, hashed as it was written (empty if that could not be done).
     */
    private static Optional<String> compress(java.io.InputStream in, Path tmp, int level, Tee tee) throws IOException {
        byte[] chunk = new byte[Tee.CHUNK];
        DigestingOutputStream file = new DigestingOutputStream(new java.io.BufferedOutputStream(
                Files.newOutputStream(tmp), Tee.CHUNK));
        try (file; com.github.luben.zstd.ZstdOutputStream zstd = new com.github.luben.zstd.ZstdOutputStream(file, level)) {
            zstd.setWorkers(Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
            int n;
            while ((n = in.readNBytes(chunk, 0, chunk.length)) > 0) {
                zstd.write(chunk, 0, n);
                tee.write(chunk, n);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            tee.end();
        }
        return file.sha256();
    }

    private static BackstopException fullDisk(Target target, Path tmp, String detail) {
        return new BackstopException(ExitCode.STORAGE, "backup of target " + target.name() + ": the backup directory "
                + tmp.getParent() + " is full (No space left on device); free space or lower retention. Earlier backups"
                + " are untouched.\n    " + detail.replace("\n", "\n    "));
    }

    /** Turns pg_dump's stderr into the error the operator needs: full disk, permissions, locks or the rest. */
    private BackstopException classify(Target target, ProcessRunner.Spec spec, ProcessRunner.Result result,
            ProcessRunner runner, Path tmp) {
        String err = result.stderrTail();
        String prefix = "backup of target " + target.name() + ": ";
        if (err.contains("No space left on device") || err.contains("Disk quota exceeded")) {
            return fullDisk(target, tmp, err);
        }
        if (err.contains("Permission denied") || err.contains("Read-only file system")) {
            return new BackstopException(ExitCode.STORAGE, prefix + "cannot write to " + tmp.getParent() + "\n    "
                    + err.replace("\n", "\n    "));
        }
        if (err.contains("could not obtain lock")) {
            return new BackstopException(ExitCode.DUMP_FAILED, prefix + "a table lock was not granted within "
                    + "pg-dump.lock-wait-timeout (" + settings.pgDump().lockWaitTimeout() + "); a long transaction or"
                    + " migration holds it\n    " + err.replace("\n", "\n    "));
        }
        if (err.contains("server version mismatch") || err.contains("aborting because of server version")) {
            return new BackstopException(ExitCode.TOOLS, prefix + "pg_dump cannot dump this server version\n    "
                    + err.replace("\n", "\n    "));
        }
        return runner.failure(spec, result, ExitCode.DUMP_FAILED);
    }
}
