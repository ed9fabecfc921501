package io.backstop.offsite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings;
import io.backstop.config.SettingsLoader;
import io.backstop.files.Hashing;
import io.backstop.offsite.Checksum;
import io.backstop.testing.Fixtures;
import io.backstop.testing.S3Server;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two ways a single upload's bytes go to the store, side by side against a real S3 API server
 * (S3Proxy) with the real curl: the object, the checksum the store verifies, and what each failure
 * reads like must be the same whether curl or the AWS SDK sent it; curl's command line carries
 * nothing secret, and it trusts what this JVM trusts, no more.
 */
class ObjectStoreIT {
    private static final String BUCKET = "backstop-store";
    private static final List<String> UPLOADERS = List.of("curl", "sdk");

    @TempDir
    Path dir;

    private S3Server s3;
    private Path file;

    @BeforeEach
    void storeAndFile() throws IOException {
        s3 = S3Server.start(dir.resolve("s3"), BUCKET);
        file = dir.resolve("app-20261122T000000Z.dump");
        byte[] bytes = new byte[6 << 20];
        new Random(19).nextBytes(bytes);
        Files.write(file, bytes);
    }

    @AfterEach
    void stop() {
        s3.close();
    }

    private Settings.Offsite settings(S3Server server, String bucket, String uploader, Map<String, String> more) {
        Map<String, String> env = new HashMap<>(server.env(bucket + "/t"));
        env.put("BACKSTOP_OFFSITE_UPLOADER", uploader);
        env.putAll(more);
        return new SettingsLoader(env).load(Optional.empty()).offsite().orElseThrow();
    }

    private Settings.Offsite settings(String uploader) {
        return settings(s3, BUCKET, uploader, Map.of());
    }

    private ObjectStore.Sent upload(ObjectStore store, String key, Optional<String> checksum) {
        try {
            return store.upload(key, file, Files.size(file), checksum, Map.of("backstop-sha256", Hashing.sha256(file)),
                    Optional.empty(), null);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private BackstopException failure(ObjectStore store, String key) {
        return catchThrowableOfType(() -> upload(store, key, Optional.empty()), BackstopException.class);
    }

    private Path object(String key) {
        return s3.data().resolve(BUCKET).resolve(key);
    }

    @Test
    void curlAndTheSdkStoreTheSameBytesWithTheChecksumTheStoreVerified() throws IOException {
        String crc = Checksum.CRC32C.of(file, 0, Files.size(file));
        for (String uploader : UPLOADERS) {
            try (ObjectStore store = new ObjectStore(settings(uploader))) {
                String key = "t/" + uploader + ".dump";
                ObjectStore.Sent sent = upload(store, key, Optional.empty());
                assertThat(sent.by()).isEqualTo(uploader.equals("curl") ? "curl" : "the AWS SDK");
                assertThat(sent.checksum()).isEqualTo(crc);
                ObjectStore.Head head = store.head(key).orElseThrow();
                assertThat(head.size()).isEqualTo(Files.size(file));
                assertThat(head.checksum()).as("the CRC32C the store computed on receipt").isEqualTo(crc);
                assertThat(head.metadata()).containsEntry("backstop-sha256", Hashing.sha256(file));
                assertThat(Files.mismatch(object(key), file)).isEqualTo(-1L);
            }
            // Content-MD5 (stores without the newer headers): the ETag the PUT answered is what reads back.
            try (ObjectStore store = new ObjectStore(settings(s3, BUCKET, uploader,
                    Map.of("BACKSTOP_OFFSITE_CHECKSUM", "md5")))) {
                String key = "t/md5-" + uploader + ".dump";
                ObjectStore.Sent sent = upload(store, key, Optional.empty());
                assertThat(sent.checksum()).isNull();
                assertThat(sent.eTag()).as(uploader).matches("[0-9a-f]{32}")
                        .isEqualTo(store.head(key).orElseThrow().eTag());
            }
        }
    }

    @Test
    void aPathWithQuotesBackslashesAndSpacesReachesCurlIntact() throws IOException {
        Path odd = Files.createDirectories(dir.resolve("a \"quoted\" \\ dir")).resolve("x\ty \\\"z\".dump");
        Files.copy(file, odd);
        try (ObjectStore store = new ObjectStore(settings("curl"))) {
            ObjectStore.Sent sent = store.upload("t/odd.dump", odd, Files.size(odd), Optional.empty(), Map.of(),
                    Optional.empty(), null);
            assertThat(sent.by()).isEqualTo("curl");
        }
        assertThat(Files.mismatch(object("t/odd.dump"), file)).isEqualTo(-1L);
    }

    @Test
    void bytesThatAreNotWhatTheChecksumSaysAreRefusedAndNothingIsStored() throws IOException {
        Path other = dir.resolve("other");
        Files.writeString(other, "not the file");
        String wrong = Checksum.CRC32C.of(other, 0, Files.size(other));
        for (String uploader : UPLOADERS) {
            try (ObjectStore store = new ObjectStore(settings(uploader))) {
                String key = "t/damaged-" + uploader + ".dump";
                BackstopException e = catchThrowableOfType(() -> upload(store, key, Optional.of(wrong)),
                        BackstopException.class);
                assertThat(e).as(uploader).isNotNull();
                assertThat(e.code()).isEqualTo(ExitCode.OFFSITE);
                assertThat(e.getMessage()).as(uploader).contains("uploading " + key,
                        "the store received other bytes than were sent");
                assertThat(store.head(key)).isEmpty();
                assertThat(object(key)).doesNotExist();
            }
        }
    }

    @Test
    void wrongKeysAMissingBucketAndAnUnreachableStoreAreNamed() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        for (String uploader : UPLOADERS) {
            try (ObjectStore wrongKey = new ObjectStore(settings(s3, BUCKET, uploader,
                    Map.of("BACKSTOP_OFFSITE_SECRET_KEY", "not-the-secret-Qq7")));
                    ObjectStore noBucket = new ObjectStore(settings(s3, "no-such-bucket", uploader, Map.of()));
                    ObjectStore away = new ObjectStore(settings(s3, BUCKET, uploader,
                            Map.of("BACKSTOP_OFFSITE_ENDPOINT", "http://127.0.0.1:" + closed)))) {
                BackstopException refused = failure(wrongKey, "t/k.dump");
                BackstopException missing = failure(noBucket, "t/k.dump");
                for (BackstopException e : List.of(refused, missing)) {
                    assertThat(e.code()).isEqualTo(ExitCode.OFFSITE);
                    assertThat(e.getMessage()).as(uploader).doesNotContain("not-the-secret-Qq7", S3Server.ACCESS_KEY,
                            "X-Amz-");
                }
                if (uploader.equals("curl")) {
                    // curl waits for the store's 100 Continue and reads a refusal that comes before the body; the
                    // SDK sends the body anyway, the store hangs up (a broken pipe), and only the bucket check
                    // that opens every sync names the credentials or the bucket for it.
                    assertThat(refused.getMessage()).contains("the store refused the credentials");
                    assertThat(missing.getMessage()).contains("bucket no-such-bucket does not exist there");
                }
                BackstopException unreachable = failure(away, "t/k.dump");
                assertThat(unreachable.code()).isEqualTo(ExitCode.OFFSITE);
                assertThat(unreachable.getMessage()).as(uploader).contains("the store is unreachable");
            }
        }
        assertThat(object("t/k.dump")).doesNotExist();
    }

    @Test
    void curlGetsNothingSecretOnItsCommandLineAndACutUploadLeavesNoObject() throws Exception {
        s3.close();
        // 2 MB/s: the upload runs for some seconds, long enough to look at curl and to cut it.
        s3 = S3Server.start(dir.resolve("s3"), BUCKET, Map.of("s3proxy.latency-blobstore.put.speed", "2000"));
        try (ObjectStore store = new ObjectStore(settings("curl"))) {
            CompletableFuture<ObjectStore.Sent> upload = CompletableFuture.supplyAsync(
                    () -> upload(store, "t/cut.dump", Optional.empty()));
            Fixtures.await("curl running", Duration.ofSeconds(60), () -> curl().isPresent() || upload.isDone());
            ProcessHandle curl = curl().orElseThrow(() -> new AssertionError("no curl process: " + upload.join()));
            List<String> argv = List.of(curl.info().arguments().orElseThrow());
            assertThat(argv).containsExactly("-q", "--config", "-");
            String cmdline = Files.readString(Path.of("/proc", String.valueOf(curl.pid()), "cmdline"));
            assertThat(cmdline).doesNotContain("X-Amz-", S3Server.ACCESS_KEY, S3Server.SECRET_KEY);

            s3.kill();
            CompletionException cut = catchThrowableOfType(upload::join, CompletionException.class);
            assertThat(cut).isNotNull();
            assertThat(cut.getCause()).isInstanceOf(BackstopException.class);
            assertThat(((BackstopException) cut.getCause()).code()).isEqualTo(ExitCode.OFFSITE);
            assertThat(cut.getCause().getMessage()).contains("uploading t/cut.dump", "curl exited with")
                    .doesNotContain("X-Amz-");
            assertThat(curl()).as("no curl left running").isEmpty();
        }
        assertThat(object("t/cut.dump")).as("nothing under the final name").doesNotExist();

        S3Server again = S3Server.start(dir.resolve("s3"), BUCKET);
        try (again; ObjectStore store = new ObjectStore(settings(again, BUCKET, "curl", Map.of()))) {
            assertThat(upload(store, "t/cut.dump", Optional.empty()).by()).isEqualTo("curl");
            assertThat(Files.mismatch(object("t/cut.dump"), file)).isEqualTo(-1L);
        }
    }

    private static Optional<ProcessHandle> curl() {
        return ProcessHandle.current().descendants().filter(p -> p.info().command().map(c -> c.endsWith("/curl"))
                .orElse(false)).findFirst();
    }

    @Test
    void curlTrustsNoAuthorityThisJvmDoesNot() throws IOException {
        s3.close();
        s3 = S3Server.startTls(dir.resolve("s3"), BUCKET);
        // This JVM trusts only the JDK's authorities: the store's own is not among them, for curl either.
        try (ObjectStore store = new ObjectStore(settings("curl"))) {
            BackstopException e = failure(store, "t/tls.dump");
            assertThat(e.code()).isEqualTo(ExitCode.OFFSITE);
            assertThat(e.getMessage()).contains("curl exited with 60", "certificate", "javax.net.ssl.trustStore");
        }
        assertThat(object("t/tls.dump")).doesNotExist();
    }

    @Test
    void uploaderCurlWithoutCurlIsAConfigurationErrorAndAutoFallsBackToTheSdk() {
        Path none = dir.resolve("no-curl-here");
        BackstopException e = catchThrowableOfType(() -> new ObjectStore(settings("curl"), none),
                BackstopException.class);
        assertThat(e.code()).isEqualTo(ExitCode.USAGE);
        assertThat(e.getMessage()).contains("uploader is curl but " + none + " is not installed",
                "auto (curl where installed, else the AWS SDK) or sdk");
        try (ObjectStore store = new ObjectStore(settings("auto"), none)) {
            assertThat(upload(store, "t/auto.dump", Optional.empty()).by()).isEqualTo("the AWS SDK");
        }
        try (ObjectStore store = new ObjectStore(settings("auto"))) {
            assertThat(upload(store, "t/auto-curl.dump", Optional.empty()).by()).isEqualTo("curl");
        }
    }
}
