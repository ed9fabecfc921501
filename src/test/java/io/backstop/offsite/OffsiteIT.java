package io.backstop.offsite;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import io.backstop.testing.S3Server;
import io.backstop.testing.Tools;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Offsite copies against a real S3 API server (S3Proxy, filesystem backend, SigV4) with the real
 * pg_dump/pg_restore and Debian's age: what is uploaded, how it is checked, how it comes back on
 * a host that has nothing but the bucket's credentials and the identity, and what faults do.
 */
class OffsiteIT {
    private static final String BUCKET = "backstop-offsite";
    private final PgCluster pg = PgCluster.shared();
    private final ObjectMapper json = new ObjectMapper();

    @TempDir
    Path dir;

    private S3Server s3;
    private String db;
    private Path backups;
    private final List<String> outputs = new ArrayList<>();

    @BeforeEach
    void storeAndDatabase() {
        s3 = S3Server.start(dir.resolve("s3"), BUCKET);
        db = pg.createDatabase("offsite");
        pg.execute(db, "CREATE TABLE users(id int primary key, email text)",
                "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5000) g",
                "CREATE TABLE orders(id bigint primary key, user_id int REFERENCES users, total numeric)",
                "INSERT INTO orders SELECT g, 1 + g % 5000, g / 7.0 FROM generate_series(1, 20000) g");
        backups = dir.resolve("backups");
    }

    @AfterEach
    void stop() {
        s3.close();
    }

    private Map<String, String> env(String prefix) {
        Map<String, String> env = Cli.env(pg, db, backups);
        env.putAll(s3.env(BUCKET + "/" + prefix));
        return env;
    }

    private Cli.Result run(Map<String, String> env, String... args) {
        Cli.Result r = Cli.run(env, args);
        outputs.add(r.all());
        return r;
    }

    private Path identity() throws IOException, InterruptedException {
        Path key = dir.resolve("age-key.txt");
        if (!Files.exists(key)) {
            Process p = new ProcessBuilder(Tools.require("age-keygen", "age"), "-o", key.toString())
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            assertThat(p.waitFor()).isZero();
        }
        return key;
    }

    private String recipient() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("age-keygen", "-y", identity().toString()).start();
        String r = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor()).isZero();
        assertThat(r).startsWith("age1");
        return r;
    }

    private List<Path> objects(String prefix) throws IOException {
        Path root = s3.data().resolve(BUCKET).resolve(prefix);
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        return Fixtures.files(root).stream().filter(f -> !f.getFileName().toString().startsWith(".")).toList();
    }

    private JsonNode list(Map<String, String> env) throws IOException {
        Cli.Result r = run(env, "list", "--json");
        assertThat(r.status()).as(r.all()).isZero();
        return json.readTree(r.out());
    }

    private String sh(String script) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-o", "pipefail", "-c", script).redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", pg.password());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    @Test
    void aStoreWithoutTheChecksumHeadersGetsContentMd5AndTheCopyRestores() throws Exception {
        s3.close();
        s3 = S3Server.startLegacy(dir.resolve("s3-legacy"), BUCKET);
        Map<String, String> env = env("legacy");
        Path log = dir.resolve("legacy-backup.log");
        Process backup = Cli.spawn(env, log, "backup");
        assertThat(backup.waitFor(180, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(log);
        outputs.add(out);
        assertThat(backup.exitValue()).as(out).isZero();
        assertThat(out).contains("does not implement the x-amz-checksum-crc32c header", "sending Content-MD5 instead",
                "offsite.checksum = md5", "offsite app: 1 uploaded");
        assertThat(out.split("does not implement the x-amz-checksum", -1)).as("said once").hasSize(2);
        assertThat(objects("legacy")).anyMatch(p -> p.getFileName().toString().endsWith(".dump.zst"));

        Map<String, String> newHost = env("legacy");
        newHost.put("BACKSTOP_BACKUP_DIR", dir.resolve("new-host").toString());
        String into = "from_legacy_" + System.nanoTime();
        Cli.Result restored = run(newHost, "restore", "offsite:latest", "--into", into, "--yes");
        assertThat(restored.status()).as(restored.all()).isZero();
        assertThat(pg.count(into, "users")).isEqualTo(5000);
        assertThat(pg.count(into, "orders")).isEqualTo(20000);
    }

    @Test
    void anEncryptedCopyIsReadBackDecryptsWithAgeAndRestoresOnANewHost() throws Exception {
        Map<String, String> env = env("enc");
        env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
        Cli.Result backup = run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
        assertThat(backup.out()).contains("offsite app: 1 uploaded", "1 copied in the store", "verified by read back");

        JsonNode rows = list(env);
        assertThat(rows).hasSize(2); // the hourly backup and its daily promotion
        for (JsonNode row : rows) {
            JsonNode offsite = row.get("offsite");
            assertThat(offsite.get("state").asText()).isEqualTo("copied");
            assertThat(offsite.get("encrypted").asBoolean()).isTrue();
            assertThat(offsite.get("key").asText()).startsWith("enc/app/").endsWith(".dump.zst.age");
            assertThat(offsite.get("readback").asText()).contains("crc32c"); // the default checksum, read back
            // Sent in one PUT with its CRC32C, which the store verified: no sha256 of the ciphertext was taken.
            assertThat(offsite.get("sha256").isNull()).as(offsite.toString()).isTrue();
        }
        // In the store: the ciphertext and the manifest, nothing readable as a dump.
        List<Path> stored = objects("enc");
        assertThat(stored).extracting(p -> p.getFileName().toString())
                .anyMatch(n -> n.matches("app-\\d{8}T\\d{6}Z\\.dump\\.zst\\.age"))
                .anyMatch(n -> n.matches("app-\\d{8}T\\d{6}Z\\.dump\\.zst\\.json"))
                .anyMatch(n -> n.matches("app-\\d{8}T\\d{6}Z-globals\\.sql\\.age"))
                .anyMatch(n -> n.matches("app-\\d{8}-globals\\.sql\\.age"))
                .noneMatch(n -> n.endsWith(".dump.zst") || n.endsWith(".sql"));
        Path globalsObject = stored.stream().filter(p -> p.toString().contains("/hourly/")
                && p.toString().endsWith("-globals.sql.age")).findFirst().orElseThrow();
        assertThat(Files.readString(globalsObject, StandardCharsets.ISO_8859_1)).startsWith("age-encryption.org/v1\n")
                .doesNotContain("CREATE ROLE", "SCRAM-SHA-256");
        Path object = stored.stream().filter(p -> p.toString().contains("/hourly/") && p.toString().endsWith(".dump.zst.age"))
                .findFirst().orElseThrow();
        assertThat(Files.readString(object, StandardCharsets.ISO_8859_1)).startsWith("age-encryption.org/v1\n")
                .doesNotContain("CREATE TABLE", "@example.com");

        // No lock-in: Debian's age and zstd, then a plain pg_restore.
        String plainDb = pg.createDatabase("byhand");
        sh(Tools.require("age", "age") + " -d -i " + identity() + " " + object + " | " + Tools.require("zstd", "zstd")
                + " -dc | " + pg.bin().resolve("pg_restore") + " --no-owner -h " + pg.host() + " -p " + pg.port()
                + " -U " + PgCluster.SUPERUSER + " -d " + plainDb);
        assertThat(pg.count(plainDb, "users")).isEqualTo(5000);
        assertThat(pg.count(plainDb, "orders")).isEqualTo(20000);

        // A new host: an empty backup directory, the bucket's credentials and the identity; no recipients needed.
        Map<String, String> newHost = env("enc");
        newHost.put("BACKSTOP_BACKUP_DIR", dir.resolve("new-host").toString());
        Cli.Result listed = run(newHost, "list", "--offsite");
        assertThat(listed.status()).as(listed.all()).isZero();
        assertThat(listed.out()).contains("hourly", "daily", "age", "25,000");
        Cli.Result without = run(newHost, "restore", "offsite:latest", "--into", "never_" + System.nanoTime(), "--yes");
        assertThat(without.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(without.err()).contains("is encrypted", "--identity FILE", "BACKSTOP_AGE_IDENTITY_FILE");
        String into = "from_offsite_" + System.nanoTime();
        Cli.Result restored = run(newHost, "restore", "offsite:latest", "--into", into, "--yes", "--with-roles",
                "--identity", identity().toString());
        assertThat(restored.status()).as(restored.all()).isZero();
        assertThat(restored.out()).as("the globals came down with the copy, decrypted")
                .containsPattern("roles: created none; left as they are \\(they exist here\\): [^;]*postgres");
        assertThat(restored.out()).contains("downloading and decrypting", "row counts match the manifest");
        assertThat(pg.count(into, "users")).isEqualTo(5000);
        assertThat(pg.count(into, "orders")).isEqualTo(20000);

        // A restore drill from the offsite copy, the identity from the environment this time. The restore's
        // download stays for the operator; the drill's is removed after it: no decrypted copy is left behind.
        newHost.put("BACKSTOP_AGE_IDENTITY_FILE", identity().toString());
        Path downloads = dir.resolve("new-host").resolve("app").resolve("offsite");
        List<String> restoredFrom = names(downloads);
        assertThat(restoredFrom).hasSize(3).anyMatch(n -> n.endsWith(".dump.zst")).anyMatch(n -> n.endsWith(".json"))
                .anyMatch(n -> n.endsWith("-globals.sql"));
        for (String n : restoredFrom) {
            Files.delete(downloads.resolve(n)); // the operator is done with it
        }
        Cli.Result drill = run(newHost, "verify", "offsite:latest");
        assertThat(drill.status()).as(drill.all()).isZero();
        assertThat(drill.out()).containsPattern("verify app: offsite copy enc/app/\\S+\\.dump\\.zst\\.age passed");
        assertThat(names(downloads)).isEmpty();

        // A wrong identity: a clear refusal, nothing restored.
        Path other = dir.resolve("other-key.txt");
        sh("age-keygen -o " + other);
        Cli.Result wrong = run(newHost, "restore", "offsite:latest", "--into", "never_" + System.nanoTime(), "--yes",
                "--identity", other.toString());
        assertThat(wrong.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(wrong.err()).contains("cannot be decrypted", other.toString());
        assertNoSecretAnywhere();
    }

    /** A backup's object in the store: not its manifest, nor the globals beside it. */
    private static boolean isDump(Path object) {
        String n = object.getFileName().toString();
        return !n.endsWith(".json") && !n.contains(io.backstop.catalog.BackupLayout.GLOBALS_SUFFIX);
    }

    @Test
    void aCopyDamagedInTheStoreIsRefusedOnDownloadAndNothingIsRestored() throws Exception {
        // A plain copy carries the sha256 recorded at upload; one encrypted on its way up, sent with its CRC32C in
        // one PUT, has no sha256 of its own: age's authentication and the store's CRC32C catch the damage. Sent
        // with a sha256 (offsite.checksum), an encrypted copy has its own again.
        record Case(String prefix, boolean encrypted, String checksum, boolean sha256) {
        }
        for (Case c : List.of(new Case("rot", false, "crc32c", true), new Case("rot-age", true, "crc32c", false),
                new Case("rot-age-sha", true, "sha256", true))) {
            String prefix = c.prefix();
            boolean encrypted = c.encrypted();
            Map<String, String> env = env(prefix);
            env.put("BACKSTOP_BACKUP_DIR", dir.resolve("local-" + prefix).toString()); // one backup each
            env.put("BACKSTOP_OFFSITE_CHECKSUM", c.checksum());
            if (encrypted) {
                env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
            }
            Cli.Result backup = run(env, "backup");
            assertThat(backup.status()).as(backup.all()).isZero();
            JsonNode offsite = hourly(list(env)).get("offsite");
            assertThat(offsite.get("state").asText()).isEqualTo("copied");
            assertThat(offsite.get("readback").asText()).isEqualTo("size + " + c.checksum() + " read back");
            Path hourlyObject = objects(prefix).stream().filter(p -> p.toString().contains("/hourly/")
                    && isDump(p)).findFirst().orElseThrow();
            if (c.sha256()) {
                assertThat(offsite.get("sha256").asText()).isEqualTo(sha256(hourlyObject));
            } else {
                assertThat(offsite.get("sha256").isNull()).as(offsite.toString()).isTrue();
            }
            List<Path> copies = objects(prefix).stream().filter(OffsiteIT::isDump).toList();
            assertThat(copies).isNotEmpty();
            for (Path object : copies) {
                try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(object.toFile(), "rw")) {
                    f.seek(f.length() / 2);
                    int b = f.read();
                    f.seek(f.length() / 2);
                    f.write(b ^ 0x01); // one bit, as a disk would rot it
                }
            }

            Map<String, String> newHost = env(prefix);
            Path host = dir.resolve("host-" + prefix);
            newHost.put("BACKSTOP_BACKUP_DIR", host.toString());
            String into = "never_" + System.nanoTime();
            Cli.Result restore = encrypted
                    ? run(newHost, "restore", "offsite:latest", "--into", into, "--yes", "--identity", identity().toString())
                    : run(newHost, "restore", "offsite:latest", "--into", into, "--yes");
            assertThat(restore.status()).as(restore.all()).isEqualTo(ExitCode.BAD_BACKUP.status());
            assertThat(restore.err()).contains(prefix + "/app/hourly/", "the copy is damaged",
                    c.sha256() ? "downloaded with sha256" : "downloaded with crc32c");
            try (java.sql.Connection conn = pg.connect("postgres");
                    java.sql.ResultSet r = conn.createStatement().executeQuery(
                            "SELECT count(*) FROM pg_database WHERE datname = '" + into + "'")) {
                assertThat(r.next() && r.getLong(1) == 0).as("no database " + into).isTrue();
            }
            assertThat(names(host.resolve("app").resolve("offsite"))).as("no download left").isEmpty();
        }
        assertNoSecretAnywhere();
    }

    @Test
    void largeFilesGoUpInPartsWithContentMd5AndAPlainCopyNeedsNoIdentity() throws Exception {
        blobs(400000);
        Map<String, String> env = env("parts");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "none"); // a large file: several 5 MiB parts
        env.put("BACKSTOP_OFFSITE_MULTIPART_THRESHOLD", "5MiB");
        env.put("BACKSTOP_OFFSITE_PART_SIZE", "5MiB");
        env.put("BACKSTOP_OFFSITE_CHECKSUM", "md5");
        Cli.Result backup = run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
        JsonNode hourly = hourly(list(env));
        long size = hourly.get("size_bytes").asLong();
        assertThat(size).isGreaterThan(3 * (5L << 20));
        JsonNode offsite = hourly.get("offsite");
        assertThat(offsite.get("state").asText()).isEqualTo("copied");
        assertThat(offsite.get("encrypted").asBoolean()).isFalse();
        assertThat(offsite.get("size_bytes").asLong()).isEqualTo(size);
        assertThat(offsite.get("readback").asText()).contains("md5");
        Path object = objects("parts").stream().filter(p -> p.toString().contains("/hourly/")
                && p.toString().endsWith(".dump")).findFirst().orElseThrow();
        assertThat(Files.size(object)).isEqualTo(size);
        assertThat(sha256(object)).isEqualTo(hourly.get("offsite").get("sha256").asText());

        Map<String, String> newHost = env("parts");
        newHost.put("BACKSTOP_BACKUP_DIR", dir.resolve("new-host").toString());
        String into = "parts_" + System.nanoTime();
        String name = Path.of(hourly.get("file").asText()).getFileName().toString();
        Cli.Result restored = run(newHost, "restore", "offsite:" + name, "--into", into, "--yes");
        assertThat(restored.status()).as(restored.all()).isZero();
        assertThat(pg.count(into, "blobs")).isEqualTo(400000);

        // What a killed download leaves (a partial file no process holds) is swept by the next fetch, which then
        // succeeds; a download another process is still writing (its file locked) is left alone.
        Path downloads = dir.resolve("new-host").resolve("app").resolve("offsite");
        Path orphan = downloads.resolve(BackupLayout.TEMP_PREFIX + name);
        Files.write(orphan, new byte[1 << 20]);
        Path deadDrill = Files.createDirectories(downloads.resolve(".drill-0dead0ff"));
        Files.createFile(deadDrill.resolve(".lock"));
        Files.write(deadDrill.resolve(name), new byte[1 << 20]);
        Path inProgress = downloads.resolve(BackupLayout.TEMP_PREFIX + name + "-elsewhere");
        try (FileChannel channel = FileChannel.open(inProgress, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                FileLock held = channel.lock()) {
            assertThat(held.isValid()).isTrue();
            String again = "parts_again_" + System.nanoTime();
            Cli.Result second = run(newHost, "verify", "offsite:" + name);
            assertThat(second.status()).as(second.all()).isZero();
            assertThat(second.out()).contains("passed");
            assertThat(orphan).doesNotExist();
            assertThat(deadDrill).doesNotExist();
            assertThat(inProgress).exists();
            Cli.Result third = run(newHost, "restore", "offsite:" + name, "--into", again, "--yes");
            assertThat(third.status()).as(third.all()).isZero();
            assertThat(pg.count(again, "blobs")).isEqualTo(400000);
        }
        try (var left = Files.list(downloads)) {
            assertThat(left.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(name, name + ".json", inProgress.getFileName().toString(),
                            io.backstop.catalog.BackupLayout.globalsOf(Path.of(name)).toString());
        }
        assertNoSecretAnywhere();
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** A table of {@code rows} rows of 96 characters: an uncompressed dump of several 5 MiB parts. */
    private void blobs(int rows) {
        pg.execute(db, "CREATE TABLE blobs AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) || md5((g * 7)::text)"
                + " AS body FROM generate_series(1, " + rows + ") g");
    }

    private static JsonNode hourly(JsonNode rows) {
        for (JsonNode r : rows) {
            if (r.get("tier").asText().equals("hourly")) {
                return r;
            }
        }
        throw new AssertionError("no hourly backup in " + rows);
    }

    private static String sha256(Path file) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file)) {
            byte[] b = new byte[1 << 16];
            int n;
            while ((n = in.read(b)) > 0) {
                md.update(b, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    @Test
    void aStoreBehindAPrivateAuthorityTakesCopiesSentByCurlOnceTheJvmTrustsIt() throws Exception {
        s3.close();
        s3 = S3Server.startTls(dir.resolve("s3"), BUCKET);
        Map<String, String> env = env("tls");
        // This test's JVM trusts only the JDK's authorities: the backup is kept, its copy waits.
        Cli.Result backup = run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
        assertThat(backup.err()).contains("offsite copy of target app not made");
        assertThat(objects("tls")).isEmpty();

        // The operator's trust store (how a private authority is given to a JVM) is what curl trusts too.
        env.put("JAVA_TOOL_OPTIONS", "-Djavax.net.ssl.trustStore=" + s3.trustStore()
                + " -Djavax.net.ssl.trustStorePassword=" + S3Server.TRUST_PASSWORD);
        Path log = dir.resolve("offsite-tls.log");
        Process sync = Cli.spawn(env, log, "offsite", "-v");
        assertThat(sync.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(log);
        outputs.add(out);
        assertThat(sync.exitValue()).as(out).isZero();
        assertThat(out).contains("1 uploaded", "upload", "by curl");
        JsonNode copies = json.readTree(stateFile().toFile()).get("copies");
        JsonNode hourly = null;
        for (JsonNode c : copies) {
            if (c.get("local").asText().startsWith("hourly/")) {
                hourly = c;
            }
        }
        assertThat(hourly).as(copies.toString()).isNotNull();
        assertThat(hourly.get("readback").asText()).isEqualTo("size + crc32c read back");
        Path local = backups.resolve("app").resolve(hourly.get("local").asText());
        Path object = s3.data().resolve(BUCKET).resolve(hourly.get("key").asText());
        assertThat(Files.mismatch(object, local)).isEqualTo(-1L);
        assertNoSecretAnywhere();
    }

    @Test
    void aKilledBackstopTakesItsCurlWithItAndLeavesNoObject() throws Exception {
        Map<String, String> env = env("killed");
        s3.kill();
        assertThat(run(env, "backup").status()).isZero();
        // 50 KB/s: the upload is still running when Backstop is killed, whatever the machine's speed.
        s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.put.speed", "50"));
        env.putAll(s3.env(BUCKET + "/killed"));
        Process sync = Cli.spawn(env, dir.resolve("offsite-killed.log"), "offsite");
        Fixtures.await("curl uploading", Duration.ofSeconds(120), () -> curlOf(sync).isPresent() || !sync.isAlive());
        String started = Files.readString(dir.resolve("offsite-killed.log"));
        ProcessHandle curl = curlOf(sync).orElseThrow(() -> new AssertionError("no curl under backstop offsite: "
                + started));
        sync.destroyForcibly(); // SIGKILL: no shutdown hook, no finally block runs
        assertThat(sync.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        Fixtures.await("curl gone with the JVM that started it", Duration.ofSeconds(30), () -> !curl.isAlive());
        assertThat(objects("killed")).as("no object under a final name").noneMatch(p -> p.getFileName().toString()
                .matches(".*\\.dump(\\.zst)?"));
        assertThat(stateFileExists()).isFalse();
    }

    private static java.util.Optional<ProcessHandle> curlOf(Process process) {
        return process.toHandle().descendants().filter(p -> p.info().command().map(c -> c.endsWith("/curl"))
                .orElse(false)).findFirst();
    }

    @Test
    void anUnreachableStoreLeavesTheLocalBackupAloneAndTheNextSyncCatchesUp() throws Exception {
        Map<String, String> env = env("down");
        s3.kill();
        Cli.Result backup = run(env, "backup");
        assertThat(backup.status()).as("a failed upload never fails the backup: " + backup.all()).isZero();
        assertThat(backup.err()).contains("offsite copy of target app not made", "unreachable",
                "the local backup is verified and kept");
        JsonNode rows = list(env);
        assertThat(rows).allSatisfy(r -> {
            assertThat(r.get("verified").asBoolean()).isTrue();
            assertThat(r.get("offsite").get("state").asText()).isEqualTo("pending");
        });
        Cli.Result sync = run(env, "offsite");
        assertThat(sync.status()).isEqualTo(ExitCode.OFFSITE.status());
        assertThat(sync.err()).contains("unreachable", "offsite.endpoint");

        s3.startProcess();
        Cli.Result caughtUp = run(env, "offsite");
        assertThat(caughtUp.status()).as(caughtUp.all()).isZero();
        assertThat(caughtUp.out()).contains("1 uploaded", "1 copied in the store");
        assertThat(list(env)).allSatisfy(r -> assertThat(r.get("offsite").get("state").asText()).isEqualTo("copied"));
        assertNoSecretAnywhere();
    }

    @Test
    void aFileDamagedSinceItsVerificationIsNeverCopiedWhateverTheChecksumOrEncryption() throws Exception {
        Map<String, String> env = env("damaged");
        s3.kill();
        assertThat(run(env, "backup").status()).isZero();
        s3.startProcess();
        Path dump = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
        // One byte changed in the middle, size and time kept: what rot on the disk looks like.
        java.nio.file.attribute.FileTime time = Files.getLastModifiedTime(dump);
        try (var channel = java.nio.channels.FileChannel.open(dump, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            long middle = channel.size() / 2;
            channel.read(one, middle);
            one.put(0, (byte) (one.get(0) ^ 0x40)).rewind();
            channel.write(one, middle);
        }
        Files.setLastModifiedTime(dump, time);
        for (String checksum : List.of("crc32c", "sha256", "md5", "crc32c+age")) {
            Map<String, String> each = new java.util.HashMap<>(env);
            each.put("BACKSTOP_OFFSITE_CHECKSUM", checksum.replace("+age", ""));
            if (checksum.endsWith("+age")) {
                each.put("BACKSTOP_AGE_RECIPIENTS", recipient());
            }
            Cli.Result sync = run(each, "offsite");
            assertThat(sync.status()).as(checksum + ": " + sync.all()).isEqualTo(ExitCode.BAD_BACKUP.status());
            assertThat(sync.err()).as(checksum).contains(dump.getFileName().toString(),
                    "no longer matches the sha256 in its manifest", "not copied offsite");
        }
        assertThat(objects("damaged")).as("nothing of the damaged backup in the store").isEmpty();
        assertThat(stateFileExists()).isFalse();
        assertNoSecretAnywhere();
    }

    @Test
    void wrongCredentialsAndAMissingBucketAreNamedAndNothingIsRecorded() throws Exception {
        Map<String, String> env = env("creds");
        assertThat(run(env, "backup").status()).isZero();
        Map<String, String> wrong = new HashMap<>(env);
        wrong.put("BACKSTOP_OFFSITE_SECRET_KEY", "not-the-secret-key-Qz7");
        Files.delete(stateFile());
        Cli.Result refused = run(wrong, "offsite");
        assertThat(refused.status()).isEqualTo(ExitCode.OFFSITE.status());
        assertThat(refused.err()).contains("refused the credentials", "offsite.secret-key")
                .doesNotContain("not-the-secret-key-Qz7");
        assertThat(stateFileExists()).isFalse();

        Map<String, String> missing = new HashMap<>(env);
        missing.put("BACKSTOP_OFFSITE_URL", "s3://no-such-bucket-here/x");
        Cli.Result noBucket = run(missing, "offsite");
        assertThat(noBucket.status()).isEqualTo(ExitCode.OFFSITE.status());
        assertThat(noBucket.err()).contains("bucket no-such-bucket-here does not exist");

        Map<String, String> noKeys = new HashMap<>(env);
        noKeys.remove("BACKSTOP_OFFSITE_SECRET_KEY");
        Cli.Result config = run(noKeys, "offsite");
        assertThat(config.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(config.err()).contains("backstop.offsite", "secret-key is empty");
        assertThat(Fixtures.finalDumps(backups.resolve("app/hourly"))).hasSize(1);
        assertNoSecretAnywhere();
    }

    @Test
    void anUploadCutMidWayLeavesNoObjectUnderItsNameAndIsRedoneAfterwards() throws Exception {
        blobs(600000);
        Map<String, String> env = env("cut");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "none");
        env.put("BACKSTOP_OFFSITE_MULTIPART_THRESHOLD", "5MiB");
        env.put("BACKSTOP_OFFSITE_PART_SIZE", "5MiB");
        // Take the backup while the store is away, so that the upload below is the only one; then a store that
        // takes parts at 20 MB/s, so that the cut below lands mid-way whatever the machine's speed.
        s3.kill();
        assertThat(run(env, "backup").status()).isZero();
        s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.upload-part.speed", "20000",
                "s3proxy.latency-blobstore.put.speed", "20000"));
        env.putAll(s3.env(BUCKET + "/cut"));
        Path log = dir.resolve("offsite-cut.log");
        Process upload = Cli.spawn(env, log, "offsite");
        Path bucket = s3.data().resolve(BUCKET);
        // Kill the store once parts are arriving: some bytes are there, the upload is not complete.
        Fixtures.await("parts arriving in the store", Duration.ofSeconds(120), () -> bytesUnder(bucket) > (6L << 20)
                || !upload.isAlive());
        s3.kill();
        assertThat(upload.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(log);
        assertThat(upload.exitValue()).as(out).isEqualTo(ExitCode.OFFSITE.status());
        assertThat(out).contains("uploading", "offsite");
        assertThat(objects("cut")).as("no object under a final name after a cut upload")
                .noneMatch(p -> p.getFileName().toString().endsWith(".dump"));
        assertThat(stateFileExists()).isFalse();

        s3.startProcess();
        Cli.Result again = run(env, "offsite");
        assertThat(again.out()).contains("1 uploaded");
        assertThat(again.status()).as(again.all()).isZero();
        JsonNode hourly = hourly(list(env));
        assertThat(hourly.get("offsite").get("state").asText()).isEqualTo("copied");
        // Parts with their CRC32Cs: the store's composite checksum, read back, is the one computed here.
        assertThat(hourly.get("offsite").get("readback").asText()).isEqualTo("size + crc32c of part crc32cs read back");
        Path object = objects("cut").stream().filter(p -> p.toString().contains("/hourly/")
                && p.toString().endsWith(".dump")).findFirst().orElseThrow();
        assertThat(sha256(object)).isEqualTo(hourly.get("offsite").get("sha256").asText());
        assertNoSecretAnywhere();
    }

    private Path stateFile() throws IOException {
        try (Stream<Path> files = Files.list(backups.resolve("app"))) {
            return files.filter(f -> f.getFileName().toString().matches("offsite-[0-9a-f]{8}\\.json")).findFirst()
                    .orElseThrow();
        }
    }

    private boolean stateFileExists() throws IOException {
        try (Stream<Path> files = Files.list(backups.resolve("app"))) {
            return files.anyMatch(f -> f.getFileName().toString().startsWith("offsite-"));
        }
    }

    private static long bytesUnder(Path dir) {
        return Fixtures.files(dir).stream().mapToLong(f -> {
            try {
                return Files.size(f);
            } catch (IOException e) {
                return 0; // gone since it was listed
            }
        }).sum();
    }

    @Test
    void offsiteRetentionKeepsItsOwnCountsPinnedBackupsAndLockedOrRefusedCopies() throws Exception {
        Map<String, String> env = env("keep");
        env.put("BACKSTOP_OFFSITE_RETENTION_HOURLY", "1");
        env.put("BACKSTOP_OFFSITE_RETENTION_DAILY", "1");
        assertThat(run(env, "backup").status()).isZero();
        assertThat(run(env, "backup").status()).isZero();
        // Rows vanish: the next backup raises the alarm and pins the last backups from before the drop.
        pg.execute(db, "DELETE FROM orders");
        Cli.Result during = run(env, "backup");
        assertThat(during.status()).as(during.all()).isZero();
        JsonNode rows = list(env);
        List<String> pinned = new ArrayList<>();
        for (JsonNode r : rows) {
            if (r.get("tier").asText().equals("hourly") && r.get("pinned").asBoolean()) {
                pinned.add(r.get("offsite").get("key").asText());
            }
        }
        assertThat(pinned).isNotEmpty();
        // Offsite: hourly keeps 1 (the newest) plus every pinned one; the unpinned older one went.
        List<String> hourlyKeys = objects("keep").stream().map(p -> s3.data().resolve(BUCKET).relativize(p).toString())
                .filter(k -> k.contains("/hourly/") && k.endsWith(".dump.zst")).toList();
        assertThat(hourlyKeys).containsAll(pinned);
        assertThat(hourlyKeys).hasSize(1 + pinned.size());

        // A store that refuses deletes (a lock S3Proxy does not keep, played by a read-only server): kept, no error.
        try (S3Server readOnly = s3.readOnly()) {
            Map<String, String> refusing = env("keep");
            refusing.put("BACKSTOP_OFFSITE_ENDPOINT", readOnly.endpoint());
            refusing.put("BACKSTOP_OFFSITE_RETENTION_HOURLY", "1");
            refusing.put("BACKSTOP_OFFSITE_RETENTION_DAILY", "1");
            pg.execute(db, "INSERT INTO orders SELECT g, 1 + g % 5000, g / 7.0 FROM generate_series(1, 20000) g");
            assertThat(run(env, "ack").status()).isZero(); // pins released: the pinned copies are due now
            Cli.Result refused = run(refusing, "offsite");
            assertThat(refused.status()).as(refused.all()).isZero();
            assertThat(refused.out()).containsPattern("[1-9]\\d* kept by object lock");
            assertThat(objects("keep").stream().map(p -> s3.data().resolve(BUCKET).relativize(p).toString())
                    .filter(k -> k.contains("/hourly/") && k.endsWith(".dump.zst")).toList()).containsAll(pinned);
        }
        // With object lock, nothing is deleted before its retain-until: kept, not an error.
        Map<String, String> locked = env("locked");
        locked.put("BACKSTOP_OFFSITE_RETENTION_HOURLY", "1");
        locked.put("BACKSTOP_OFFSITE_OBJECT_LOCK_MODE", "governance");
        locked.put("BACKSTOP_OFFSITE_OBJECT_LOCK_PERIOD", "2d");
        Cli.Result sync = run(locked, "offsite");
        assertThat(sync.status()).as(sync.all()).isZero();
        JsonNode lockedRows = list(locked);
        int copied = 0;
        for (JsonNode r : lockedRows) {
            if (!r.get("offsite").get("state").asText().equals("copied")) {
                assertThat(r.get("offsite").get("state").asText()).isEqualTo("not-kept");
                continue;
            }
            copied++;
            Instant until = Instant.parse(r.get("offsite").get("retain_until").asText());
            assertThat(until).isAfter(Instant.now().plus(Duration.ofDays(1)));
        }
        assertThat(copied).isGreaterThanOrEqualTo(2);
        // One more backup: the copy it replaces is due to go, but stays locked until its retain-until.
        assertThat(run(locked, "backup").status()).isZero();
        Cli.Result again = run(locked, "offsite");
        assertThat(again.out()).contains("0 deleted by offsite retention").containsPattern("[1-9]\\d* kept by object lock");

        assertNoSecretAnywhere();
    }

    @Test
    void localEncryptionKeepsOnlyCiphertextOnDiskAndEveryReaderTakesTheIdentity() throws Exception {
        Map<String, String> env = env("local");
        env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
        env.put("BACKSTOP_ENCRYPT_LOCAL", "true");
        Cli.Result backup = run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
        Path dump = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
        assertThat(dump.getFileName().toString()).endsWith(".dump.zst.age");
        assertThat(Files.readString(dump, StandardCharsets.ISO_8859_1)).startsWith("age-encryption.org/v1\n")
                .doesNotContain("@example.com", "CREATE TABLE");
        assertThat(sha256(dump)).isEqualTo(new io.backstop.catalog.Manifests().read(dump).sha256());
        assertThat(Fixtures.temporaries(backups.resolve("app/hourly"))).isEmpty();
        // By hand: age, zstd, pg_restore.
        String plainDb = pg.createDatabase("localbyhand");
        sh("age -d -i " + identity() + " " + dump + " | zstd -dc | " + pg.bin().resolve("pg_restore")
                + " --no-owner -h " + pg.host() + " -p " + pg.port() + " -U " + PgCluster.SUPERUSER + " -d " + plainDb);
        assertThat(pg.count(plainDb, "orders")).isEqualTo(20000);
        // Offsite: the same ciphertext, never encrypted twice.
        JsonNode hourly = hourly(list(env));
        assertThat(hourly.get("offsite").get("key").asText()).endsWith(".dump.zst.age").doesNotEndWith(".age.age");
        assertThat(hourly.get("offsite").get("sha256").asText()).isEqualTo(sha256(dump));

        // Without the identity: a clear refusal; a drill says NOT RUN rather than failed.
        Cli.Result refused = run(env, "restore", "latest", "--into", "never_" + System.nanoTime(), "--yes");
        assertThat(refused.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(refused.err()).contains("is encrypted", "--identity FILE");
        Cli.Result drill = run(env, "verify");
        assertThat(drill.all()).contains("NOT RUN", "no age identity");
        // With it: restore and a drill here, and on a new host from the bucket.
        String into = "local_enc_" + System.nanoTime();
        Cli.Result restored = run(env, "restore", "latest", "--into", into, "--yes", "--identity", identity().toString());
        assertThat(restored.status()).as(restored.all()).isZero();
        assertThat(pg.count(into, "users")).isEqualTo(5000);
        Cli.Result verified = run(env, "verify", "--identity", identity().toString());
        assertThat(verified.status()).as(verified.all()).isZero();
        Map<String, String> newHost = env("local");
        newHost.put("BACKSTOP_BACKUP_DIR", dir.resolve("new-host").toString());
        String fromBucket = "local_bucket_" + System.nanoTime();
        Cli.Result again = run(newHost, "restore", "offsite:latest", "--into", fromBucket, "--yes", "--identity",
                identity().toString());
        assertThat(again.status()).as(again.all()).isZero();
        assertThat(pg.count(fromBucket, "orders")).isEqualTo(20000);
        assertNoSecretAnywhere();
    }

    @Test
    void aBackupTakenDuringAnEncryptedUploadLeavesThatUploadAlone() throws Exception {
        blobs(300000);
        Map<String, String> env = env("race");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "0");
        env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
        s3.kill();
        assertThat(run(env, "backup").status()).isZero(); // a local backup waiting for its copy
        s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.put.speed", "10000"));
        env.putAll(s3.env(BUCKET + "/race"));
        Path log = dir.resolve("offsite-race.log");
        Process upload = Cli.spawn(env, log, "offsite");
        Path bucket = s3.data().resolve(BUCKET);
        Fixtures.await("the encrypted copy going up", Duration.ofSeconds(120),
                () -> bytesUnder(bucket) > (2L << 20) || !upload.isAlive());
        assertThat(upload.isAlive()).as("still uploading").isTrue();
        // A backup now: its start sweeps the target's temporary files, under the target's lock.
        Cli.Result backup = run(env, "backup", "--label", "during-upload");
        assertThat(backup.status()).as(backup.all()).isZero();
        assertThat(upload.waitFor(180, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(upload.exitValue()).as(Files.readString(log)).isZero();
        assertThat(hourly(list(env)).get("offsite").get("state").asText()).isEqualTo("copied");
        assertThat(Files.list(backups.resolve("app/.offsite-upload")).toList()).isEmpty();
        assertNoSecretAnywhere();
    }

    @Test
    void aCatchUpEncryptsTheNextCopyWhileOneGoesUpAndAStoppedSyncLeavesNoCopyBehind() throws Exception {
        blobs(15000);
        Map<String, String> env = env("ahead");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "0");
        env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
        s3.kill();
        threeBackupsWaiting(env);
        Path uploads = backups.resolve("app/.offsite-upload");
        assertThat(encryptedCopies(uploads)).as("an unreachable store: nothing left encrypted").isZero();
        s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.put.speed", "300"));
        env.putAll(s3.env(BUCKET + "/ahead"));
        Path log = dir.resolve("offsite-ahead.log");
        Process upload = Cli.spawn(env, log, "offsite");
        // The newest copy goes up slowly; the next one is encrypted beside it meanwhile, not after it.
        Fixtures.await("the next copy encrypted while the first goes up", Duration.ofSeconds(120),
                () -> encryptedCopies(uploads) == 2 || !upload.isAlive());
        assertThat(upload.isAlive()).as(Files.readString(log)).isTrue();
        assertThat(objects("ahead")).as("nothing complete yet").isEmpty();
        s3.kill();
        assertThat(upload.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(upload.exitValue()).as(Files.readString(log)).isEqualTo(ExitCode.OFFSITE.status());
        assertThat(encryptedCopies(uploads)).as("the copy encrypted ahead is removed with the one that failed")
                .isZero();

        s3.startProcess();
        Cli.Result again = run(env, "offsite");
        assertThat(again.status()).as(again.all()).isZero();
        assertThat(again.out()).contains("3 uploaded", "1 copied in the store");
        for (JsonNode row : list(env)) {
            assertThat(row.get("offsite").get("state").asText()).as(row.toString()).isEqualTo("copied");
            assertThat(row.get("offsite").get("encrypted").asBoolean()).isTrue();
        }
        assertThat(encryptedCopies(uploads)).isZero();
        assertNoSecretAnywhere();
    }

    @Test
    void aCopyIsNeverEncryptedAheadIntoTheRoomTheNextBackupNeeds() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Fixtures.isRoot(), "mounting a tmpfs needs root");
        blobs(15000);
        backups = Files.createDirectories(dir.resolve("small"));
        Fixtures.sh("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", backups.toString());
        try {
            Map<String, String> env = env("room");
            env.put("BACKSTOP_PG_DUMP_COMPRESS", "0");
            env.put("BACKSTOP_AGE_RECIPIENTS", recipient());
            s3.kill();
            threeBackupsWaiting(env);
            long size = Files.size(Fixtures.finalDumps(backups.resolve("app/hourly")).get(0));
            // Room for the copy going up and half of another: not for a second one beside it.
            java.nio.file.FileStore store = Files.getFileStore(backups);
            long used = store.getTotalSpace() - store.getUsableSpace();
            Fixtures.sh("mount", "-o", "remount,size=" + ((used + size * 3 / 2) / 1024 + 1) + "k", backups.toString());
            s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.put.speed", "2000"));
            env.putAll(s3.env(BUCKET + "/room"));
            Path log = dir.resolve("offsite-room.log");
            Path uploads = backups.resolve("app/.offsite-upload");
            // Every creation and removal in the upload directory, in order (inotify): the copies at once, exactly.
            Files.createDirectories(uploads);
            int most = 0;
            boolean seen = false;
            try (java.nio.file.WatchService watch = uploads.getFileSystem().newWatchService()) {
                uploads.register(watch, java.nio.file.StandardWatchEventKinds.ENTRY_CREATE,
                        java.nio.file.StandardWatchEventKinds.ENTRY_DELETE);
                Process upload = Cli.spawn(env, log, "offsite");
                java.util.Set<Path> present = new java.util.HashSet<>();
                boolean done = false;
                while (!done) {
                    done = !upload.isAlive(); // one more pass after it ended: its last events are queued by then
                    java.nio.file.WatchKey key = watch.poll(100, TimeUnit.MILLISECONDS);
                    if (key == null) {
                        continue;
                    }
                    for (java.nio.file.WatchEvent<?> event : key.pollEvents()) {
                        assertThat(event.kind()).as("no event lost").isNotEqualTo(java.nio.file.StandardWatchEventKinds.OVERFLOW);
                        Path name = (Path) event.context();
                        if (!name.toString().endsWith(".age")) {
                            continue;
                        }
                        if (event.kind() == java.nio.file.StandardWatchEventKinds.ENTRY_CREATE) {
                            present.add(name);
                            seen = true;
                            most = Math.max(most, present.size());
                        } else {
                            present.remove(name);
                        }
                    }
                    key.reset();
                }
                assertThat(upload.exitValue()).as(Files.readString(log)).isZero();
            }
            String out = Files.readString(log);
            assertThat(out).contains("3 uploaded");
            assertThat(seen).as("the copies were seen going up").isTrue();
            assertThat(most).as("encrypted copies at once on a file system without room for two").isEqualTo(1);
            assertThat(encryptedCopies(uploads)).isZero();
        } finally {
            Fixtures.sh("umount", backups.toString());
        }
    }

    /** Three backups of different contents (an unchanged database dumped within a second is the same bytes). */
    private void threeBackupsWaiting(Map<String, String> env) {
        for (int i = 0; i < 3; i++) {
            pg.execute(db, "INSERT INTO users VALUES (" + (100000 + i) + ", 'new" + i + "@example.com')");
            assertThat(run(env, "backup").status()).isZero();
        }
    }

    /** How many encrypted copies wait in the upload directory now. */
    private static int encryptedCopies(Path uploads) {
        try (Stream<Path> files = Files.list(uploads)) {
            return (int) files.filter(f -> f.getFileName().toString().endsWith(".age")).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0; // not there (yet), or emptied while listed
        }
    }

    /** Keys and identities never reach output, logs, manifests, state or the store's metadata. */
    private void assertNoSecretAnywhere() throws IOException {
        List<String> secrets = new ArrayList<>(List.of(S3Server.SECRET_KEY, S3Server.ACCESS_KEY));
        Path key = dir.resolve("age-key.txt");
        if (Files.exists(key)) {
            Files.readAllLines(key).stream().filter(l -> l.startsWith("AGE-SECRET-KEY-")).forEach(secrets::add);
        }
        for (String out : outputs) {
            assertThat(out).doesNotContain(secrets);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String name = f.getFileName().toString();
                if (name.endsWith(".json") || name.endsWith(".log")) {
                    assertThat(Files.readString(f, StandardCharsets.ISO_8859_1)).as(f.toString())
                            .doesNotContain(secrets);
                }
            }
        }
    }
}
