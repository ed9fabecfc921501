package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.pg.PgVersion;
import java.util.Locale;

/**
 * How a backup is compressed, from {@code pg-dump.compress} and the pg_dump at hand. pg_dump 16
 * and later compress a custom-format archive with zstd themselves; older ones only with gzip,
 * which is what made a verified backup three times slower than an uncompressed copy-out. For
 * those, zstd means: pg_dump writes the archive uncompressed and Backstop compresses the stream
 * as it arrives ({@code .dump.zst}; restored by hand with {@code zstd -dc FILE | pg_restore}).
 * {@code auto} (the default) is zstd level 1 either way; gzip levels and {@code none} are pg_dump's
 * own, as before.
 */
public record Compression(boolean stream, String pgDumpArgument, int zstdLevel, String describe) {
    /** Measured (bench/compression.sh): level 1 was both faster and smaller than 3 on the generated database. */
    static final int DEFAULT_ZSTD_LEVEL = 1;
    private static final int NATIVE_ZSTD_MAJOR = 1600;

    public static Compression of(String configured, PgVersion pgDump) {
        String c = configured.toLowerCase(Locale.ROOT).strip();
        boolean nativeZstd = pgDump.major() >= NATIVE_ZSTD_MAJOR;
        if (c.equals("auto") || c.startsWith("zstd")) {
            int level = c.startsWith("zstd:") ? Integer.parseInt(c.substring(5)) : DEFAULT_ZSTD_LEVEL;
            if (nativeZstd) {
                return new Compression(false, "zstd:" + level, 0, "zstd:" + level + " (pg_dump)");
            }
            return new Compression(true, "0", level, "zstd:" + level + " (stream; pg_dump " + pgDump.majorText()
                    + " writes gzip only: restore by hand with zstd -dc < FILE | pg_restore -d DB)");
        }
        if (c.startsWith("lz4") && !nativeZstd) {
            throw new BackstopException(ExitCode.TOOLS, "backstop.pg-dump.compress = \"" + configured + "\": pg_dump "
                    + pgDump + " has no lz4 (pg_dump 16 and newer do); allowed here: auto, zstd[:level], 0-9, gzip[:level],"
                    + " none");
        }
        if (c.equals("none") && !nativeZstd) {
            return new Compression(false, "0", 0, "none (pg_dump)"); // pg_dump 15 and older spell it 0
        }
        if (c.startsWith("gzip") && !nativeZstd) {
            // pg_dump 15 and older take only a gzip level: gzip is 6 (its default), gzip:N is N.
            String level = c.startsWith("gzip:") ? c.substring(5) : "6";
            return new Compression(false, level, 0, "gzip:" + level + " (pg_dump)");
        }
        return new Compression(false, c, 0, c + " (pg_dump)");
    }

    /** The file name's ending: a stream is {@code .dump.zst}, an archive pg_restore reads as is {@code .dump}. */
    public String suffix() {
        return stream ? BackupLayout.ZSTD_SUFFIX : BackupLayout.DUMP_SUFFIX;
    }
}
