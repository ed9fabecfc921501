package io.backstop.catalog;

import com.github.luben.zstd.ZstdInputStream;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How pg_restore reads a backup file: a plain custom-format archive ({@code .dump}) by its path;
 * a zstd-compressed one ({@code .dump.zst}, written by Backstop for pg_dump clients older than 16)
 * on its stdin, decompressed as it is read, exactly what {@code zstd -dc FILE | pg_restore ...}
 * does by hand; an encrypted one ({@code .age} after either) decrypted first with the identity
 * given to this process ({@code --identity} or {@code BACKSTOP_AGE_IDENTITY_FILE}), as
 * {@code age -d -i KEY FILE | ...} does. Every pg_restore of a backup goes through here.
 */
public final class Archive {
    /** Reads backups that are not encrypted; an encrypted one is refused with the option that gives an identity. */
    public static final Archive PLAIN = new Archive(Optional.empty());

    /** Where the age identity for encrypted backups is (never its content). */
    private final Optional<Path> identity;

    /** Reads backups, encrypted ones with {@code identity} ({@code --identity} or BACKSTOP_AGE_IDENTITY_FILE). */
    public Archive(Optional<Path> identity) {
        this.identity = identity;
    }

    /** Whether an age identity was given (encrypted backups can be read). */
    public boolean hasIdentity() {
        return identity.isPresent();
    }

    /** {@code command} (pg_restore and its options, no archive) reading {@code archive}. */
    public ProcessRunner.Spec pgRestore(List<String> command, Path archive, Map<String, String> env,
            Duration timeout) {
        List<String> full = new ArrayList<>(command);
        if (BackupLayout.isEncrypted(archive)) {
            // No identity, or one that does not open this file: said here, not by a pg_restore reading nothing.
            try (InputStream header = decompressed(archive)) {
                header.read();
            } catch (IOException e) {
                throw new io.backstop.BackstopException(io.backstop.ExitCode.BAD_BACKUP, archive.getFileName()
                        + " cannot be read: " + e.getMessage(), e);
            }
        }
        if (!BackupLayout.isStreamed(archive)) {
            full.add(archive.toString());
            return ProcessRunner.Spec.of(full, env, timeout);
        }
        return ProcessRunner.Spec.of(full, env, timeout).withStdin(out -> {
            try (InputStream in = decompressed(archive)) {
                // 1 MiB at a time, not transferTo's 8 KiB: a call into zstd and a pipe write per MiB.
                byte[] buffer = new byte[1 << 20];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                }
            } catch (IOException e) {
                // pg_restore stopped reading (it had what it needed, or it failed): its exit code tells
            }
        });
    }

    /** The archive's bytes as pg_restore reads them: decrypted, then decompressed, as they are read. */
    public InputStream decompressed(Path archive) throws IOException {
        if (BackupLayout.isEncrypted(archive) && identity.isEmpty()) {
            throw new io.backstop.BackstopException(io.backstop.ExitCode.USAGE, archive.getFileName()
                    + " is encrypted (encryption.local); give the age identity that decrypts it: --identity FILE or"
                    + " BACKSTOP_AGE_IDENTITY_FILE");
        }
        InputStream file = new java.io.BufferedInputStream(Files.newInputStream(archive), 1 << 16);
        if (BackupLayout.isEncrypted(archive)) {
            file = io.backstop.crypt.Age.decrypting(file, identity.get(), archive.getFileName().toString());
        }
        return BackupLayout.isZstd(archive) ? new ZstdInputStream(file) : file;
    }

    /** The standard command that restores this file without Backstop, for messages and the manifest. */
    public static String restoreCommand(Path archive) {
        if (BackupLayout.isEncrypted(archive)) {
            return "age -d -i KEY " + archive.getFileName() + (BackupLayout.isZstd(archive) ? " | zstd -dc" : "")
                    + " | pg_restore -d DB";
        }
        return BackupLayout.isZstd(archive) ? "zstd -dc < " + archive.getFileName() + " | pg_restore -d DB"
                : "pg_restore -d DB " + archive.getFileName();
    }
}
