package io.backstop.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.catalog.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestsTest {
    @TempDir
    Path dir;

    @Test
    void aVersionOneManifestStillLoads() throws Exception {
        Path dump = Files.writeString(dir.resolve("app-20261001T000000Z.dump"), "x");
        Files.writeString(dir.resolve("app-20261001T000000Z.dump.json"), """
                {"format_version":1,"sequence":7,"target":"app","database":"app","host":"db","port":5432,
                 "server_version":"15.4","pg_dump_version":"15.4","system_identifier":"1","database_oid":5,
                 "file":"app-20261001T000000Z.dump","tier":"hourly","label":null,
                 "started_at":"2026-10-01T00:00:00Z","finished_at":"2026-10-01T00:00:05Z","duration_seconds":5.0,
                 "size_bytes":1,"sha256":"abc","compress":"6","row_counts":{"public.users":10},
                 "verification":{"method":"m","result":"passed","verified_at":"2026-10-01T00:00:05Z","table_data_entries":1},
                 "pinned":false,"pin_reason":null,"last_drill":null}
                """);
        Manifest m = new Manifests().read(dump);
        assertThat(m.formatVersion()).isEqualTo(1);
        assertThat(m.verified()).isTrue();
        assertThat(m.takenDuringAlarm()).isFalse();
        assertThat(m.fileModifiedAt()).isNull();
        assertThat(m.rowCounts()).containsEntry("public.users", 10L);
        assertThat(Manifest.FORMAT_VERSION).isEqualTo(2);
    }
}
