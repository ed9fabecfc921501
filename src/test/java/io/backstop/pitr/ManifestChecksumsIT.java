package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.testing.PgCluster;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The base backup's checksum check against PostgreSQL's own backup_manifest: a real pg_basebackup under
 * pgbench, followed as it writes; every file the manifest lists was read whole as it was written and its
 * CRC32C is the server's; the same check reading the copy back agrees; a changed byte, a shortened file and
 * a missing file are each named.
 */
class ManifestChecksumsIT {
    @TempDir
    Path dir;

    private PgCluster pg;

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void aCopyFollowedAsItIsWrittenMatchesTheServersManifestAndDamageIsNamed() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("manifest");
        Pgbench.initialise(pg, db, 2);
        Path copy = dir.resolve("copy");
        Map<Path, CopyFollower.Followed> followed;
        try (Pgbench load = Pgbench.start(pg, db, 0, dir.resolve("pgbench.log"));
                CopyFollower follower = CopyFollower.start(copy)) {
            ProcessBuilder pb = new ProcessBuilder(pg.bin().resolve("pg_basebackup").toString(), "-h", pg.host(),
                    "-p", Integer.toString(pg.port()), "-U", PgCluster.SUPERUSER, "-D", copy.toString(), "-Fp",
                    "-X", "stream", "-c", "fast", "--manifest-checksums=CRC32C", "--no-sync", "-w")
                    .redirectErrorStream(true);
            pb.environment().put("PGPASSWORD", pg.password());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as(out).isZero();
            assertThat(load.alive()).as("pgbench wrote throughout").isTrue();
            followed = follower.finish();
        }
        JsonNode manifest = new ObjectMapper().readTree(copy.resolve("backup_manifest").toFile());
        assertThat(ManifestChecksums.supported(manifest)).isTrue();
        List<String> listed = new ArrayList<>();
        for (JsonNode f : manifest.path("Files")) {
            String path = f.path("Path").asText();
            listed.add(path);
            assertThat(followed.get(Path.of(path))).as(path + " followed").isNotNull();
            assertThat(followed.get(Path.of(path)).bytes()).as(path + " read whole").isEqualTo(f.path("Size").asLong());
            assertThat(followed.get(Path.of(path)).synced()).as(path + " on disk").isEqualTo(f.path("Size").asLong());
        }
        assertThat(listed).hasSizeGreaterThan(500);

        assertThat(ManifestChecksums.mismatches(copy, manifest, followed)).as("as followed").isEmpty();
        assertThat(ManifestChecksums.mismatches(copy, manifest, Map.of())).as("read back").isEmpty();

        // pgbench_accounts' heap: the largest relation file, a byte in its middle changed (same size).
        Path largest = listed.stream().map(copy::resolve).max((a, b) -> Long.compare(a.toFile().length(),
                b.toFile().length())).orElseThrow();
        try (RandomAccessFile f = new RandomAccessFile(largest.toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x40);
        }
        String shortened = listed.stream().filter(n -> n.startsWith("global/") && copy.resolve(n).toFile().length() > 8192)
                .findFirst().orElseThrow();
        try (RandomAccessFile f = new RandomAccessFile(copy.resolve(shortened).toFile(), "rw")) {
            f.setLength(8192);
        }
        String missing = "PG_VERSION";
        Files.delete(copy.resolve(missing));

        List<String> problems = ManifestChecksums.mismatches(copy, manifest, Map.of());
        String damaged = copy.relativize(largest).toString();
        assertThat(problems).hasSize(3);
        assertThat(problems).anySatisfy(s -> assertThat(s).startsWith(damaged + " has CRC32C ")
                .contains("the manifest says"));
        assertThat(problems).anySatisfy(s -> assertThat(s).startsWith(shortened + " has 8192 bytes, the manifest says"));
        assertThat(problems).contains(missing + " is missing");
        // What the follower read stands for what was written: a file changed afterwards is the page cache's
        // word against it, as it would be pg_verifybackup's.
        assertThat(ManifestChecksums.mismatches(copy, manifest, followed)).hasSize(2);
    }
}
