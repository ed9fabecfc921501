package io.backstop.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A real S3 API server for tests: S3Proxy's standalone jar (copied by the build into
 * target/s3proxy) in a JVM of its own, listening on 127.0.0.1 with a filesystem backend and
 * SigV4 authentication. A process of its own, so a test can kill it mid-upload and start it
 * again on the same port and directory. S3Proxy keeps no object lock: the lock headers are
 * accepted and ignored ({@code s3proxy.ignore-unknown-headers}); a store that refuses deletes is
 * the same directory served read-only ({@link #readOnly}).
 */
public final class S3Server implements AutoCloseable {
    public static final String ACCESS_KEY = "backstop-test-access";
    public static final String SECRET_KEY = "backstop-test-s3cr3t-Yk9";
    private final Path dir;
    private final int port;
    private final boolean readOnly;
    private final Map<String, String> extra;
    private String jarName = "s3proxy.jar";
    private Path keystore;
    private Process process;

    private S3Server(Path dir, int port, boolean readOnly, Map<String, String> extra) {
        this.dir = dir;
        this.port = port;
        this.readOnly = readOnly;
        this.extra = Map.copyOf(extra);
    }

    public static Path jar() {
        return jar("s3proxy.jar");
    }

    private static Path jar(String name) {
        Path jar = Path.of("target", "s3proxy", name).toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: the build copies it (mvn generate-test-resources;"
                    + " ./test runs the whole build)");
        }
        return jar;
    }

    /** Starts a server over {@code dir} (created) with one bucket, {@code bucket}. */
    public static S3Server start(Path dir, String bucket) {
        return start(dir, bucket, Map.of());
    }

    /**
     * S3Proxy 2.x: an older store that answers 501 NotImplemented to the x-amz-checksum headers, as
     * S3-compatible stores older than those headers do.
     */
    public static S3Server startLegacy(Path dir, String bucket) {
        try {
            Files.createDirectories(dir.resolve("data").resolve(bucket));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        // As such a store answers: headers it does not know are refused, not ignored.
        S3Server s = new S3Server(dir, freePort(), false, Map.of("s3proxy.ignore-unknown-headers", "false"));
        s.jarName = "s3proxy-legacy.jar";
        s.startProcess();
        return s;
    }

    /**
     * With more S3Proxy properties, e.g. {@code s3proxy.latency-blobstore.upload-part.speed} (bytes per
     * millisecond) to slow uploads down so that a test can cut one mid-way.
     */
    public static S3Server start(Path dir, String bucket, Map<String, String> properties) {
        try {
            Files.createDirectories(dir.resolve("data").resolve(bucket));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        S3Server s = new S3Server(dir, freePort(), false, properties);
        s.startProcess();
        return s;
    }

    /**
     * Served over https only, with a certificate for 127.0.0.1 from an authority of its own (made
     * here with the JDK's keytool): nothing trusts it but {@link #trustStore()}, a PKCS12 file whose
     * password is {@link #TRUST_PASSWORD}.
     */
    public static S3Server startTls(Path dir, String bucket) {
        try {
            Files.createDirectories(dir.resolve("data").resolve(bucket));
            Path keystore = dir.resolve("tls.p12");
            String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
            run(keytool, "-genkeypair", "-alias", "s3proxy", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                    "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-keystore", keystore.toString(),
                    "-storetype", "PKCS12", "-storepass", TRUST_PASSWORD);
            run(keytool, "-exportcert", "-rfc", "-alias", "s3proxy", "-keystore", keystore.toString(), "-storepass",
                    TRUST_PASSWORD, "-file", dir.resolve("tls.pem").toString());
            run(keytool, "-importcert", "-noprompt", "-alias", "s3proxy", "-file", dir.resolve("tls.pem").toString(),
                    "-keystore", dir.resolve("trust.p12").toString(), "-storetype", "PKCS12", "-storepass",
                    TRUST_PASSWORD);
            S3Server s = new S3Server(dir, freePort(), false, Map.of());
            s.keystore = keystore;
            s.startProcess();
            return s;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static final String TRUST_PASSWORD = "backstop-test-trust";

    /** The trust store with this server's certificate (its own authority), for {@link #startTls}. */
    public Path trustStore() {
        return dir.resolve("trust.p12");
    }

    private static void run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A second server over the same directory that refuses every write and delete. */
    public S3Server readOnly() {
        S3Server s = new S3Server(dir, freePort(), true, Map.of());
        s.startProcess();
        return s;
    }

    public String endpoint() {
        return (keystore == null ? "http" : "https") + "://127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    /** The files the store keeps, for tests that look behind the API. */
    public Path data() {
        return dir.resolve("data");
    }

    /** The environment that points Backstop at this store. */
    public Map<String, String> env(String bucketAndPrefix) {
        Map<String, String> env = new HashMap<>();
        env.put("BACKSTOP_OFFSITE_URL", "s3://" + bucketAndPrefix);
        env.put("BACKSTOP_OFFSITE_ENDPOINT", endpoint());
        env.put("BACKSTOP_OFFSITE_ACCESS_KEY", ACCESS_KEY);
        env.put("BACKSTOP_OFFSITE_SECRET_KEY", SECRET_KEY);
        return env;
    }

    public synchronized void startProcess() {
        try {
            Path props = dir.resolve(readOnly ? "s3proxy-ro.properties" : "s3proxy.properties");
            Files.writeString(props, String.join("\n",
                    keystore == null ? "s3proxy.endpoint=" + endpoint() : "s3proxy.secure-endpoint=" + endpoint(),
                    keystore == null ? "" : "s3proxy.keystore-path=" + keystore,
                    keystore == null ? "" : "s3proxy.keystore-password=" + TRUST_PASSWORD,
                    "s3proxy.authorization=aws-v4",
                    "s3proxy.identity=" + ACCESS_KEY,
                    "s3proxy.credential=" + SECRET_KEY,
                    // S3Proxy 2.x asks for the backend's credentials even for the filesystem; 4.x ignores them.
                    "jclouds.identity=" + ACCESS_KEY,
                    "jclouds.credential=" + SECRET_KEY,
                    "s3proxy.ignore-unknown-headers=true",
                    "s3proxy.read-only-blobstore=" + readOnly,
                    "jclouds.provider=filesystem-nio2",
                    "jclouds.filesystem.basedir=" + dir.resolve("data")) + "\n"
                    + extra.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue() + "\n")
                            .collect(java.util.stream.Collectors.joining()));
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar(jarName).toString(), "--properties", props.toString()));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("s3proxy.log").toFile()));
            process = pb.start();
            Fixtures.await("S3Proxy listening on " + endpoint(), Duration.ofSeconds(60), () -> {
                if (!process.isAlive()) {
                    throw new IllegalStateException("S3Proxy exited: " + log());
                }
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return true;
                } catch (IOException e) {
                    return false;
                }
            });
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SIGKILL: connections are cut wherever they are. */
    public synchronized void kill() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process = null;
        }
    }

    public String log() {
        try {
            return Files.readString(dir.resolve("s3proxy.log"));
        } catch (IOException e) {
            return "";
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        kill();
    }
}
