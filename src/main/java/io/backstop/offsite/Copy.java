package io.backstop.offsite;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.catalog.Tier;
import java.nio.file.Path;
import java.time.Instant;

/**
 * One copy whose upload was verified, as {@code offsite-*.json} records it. {@code local} is the backup's
 * path under its target, e.g. {@code hourly/x.dump}; {@code sha256} is the object's (null for a copy
 * encrypted on its way whose store checksum stands for it), {@code plainSha256} the backup's.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Copy(String local, String key, String manifestKey, Tier tier, long sequence, Instant startedAt,
        long size, String sha256, String plainSha256, boolean encrypted, Instant uploadedAt, String readback,
        Instant retainUntil, boolean pinned, boolean takenDuringAlarm) {

    /** This copy with its pin as it is now: once the local file is gone, the last one seen decides. */
    public Copy withPinned(boolean now) {
        return new Copy(local, key, manifestKey, tier, sequence, startedAt, size, sha256, plainSha256, encrypted,
                uploadedAt, readback, retainUntil, now, takenDuringAlarm);
    }

    /** The local path (under the target) this copy was made from. */
    Path localPath() {
        return Path.of(local);
    }
}
