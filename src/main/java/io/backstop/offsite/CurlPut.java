package io.backstop.offsite;

import io.backstop.Background;
import io.backstop.pg.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.model.PresignedPutObjectRequest;

/**
 * One PUT whose bytes the curl command sends: the request is signed here, by the AWS SDK's
 * presigner, for this one upload (its headers, the checksum the store verifies among them, are part
 * of the signature), and curl streams the file with OpenSSL. The JVM's TLS spends some 0.75 s of
 * CPU on a 269 MB upload where curl spends 0.12 s, on a host whose database needs that CPU, and a
 * cold JVM sends its first tens of megabytes before its ciphers are compiled.
 *
 * <p>Nothing secret reaches curl's command line: the signed URL and the headers go to its standard
 * input as a configuration ({@code curl -q --config -}, ignoring any {@code .curlrc}). The secret key
 * never leaves this JVM; the signature is valid for this request only, for a quarter of an hour. curl
 * trusts exactly the certificate authorities this JVM trusts ({@code javax.net.ssl.trustStore}, else
 * the JDK's), written to a file of public certificates. Its failures come back as the SDK's
 * exceptions, so an operator reads the same messages whichever sent the bytes.
 */
final class CurlPut {
    static final Path CURL = Path.of("/usr/bin/curl");
    private static final Pattern CODE = Pattern.compile("<Code>([^<]*)</Code>");
    private static final Pattern MESSAGE = Pattern.compile("<Message>([^<]*)</Message>");
    private static final String STATUS_MARK = "\nbackstop-http-status:";

    /** Past curl's own stall limit (speed-time), only an upload that still moves runs this long. */
    private static final Duration UPLOAD_LIMIT = Duration.ofHours(24);
    private static final ProcessRunner RUNNER = new ProcessRunner();

    private final Path curl;
    private Path trust;

    CurlPut(Path curl) {
        this.curl = curl;
    }

    /** The store's answer to a PUT that reached it. */
    record Answer(int status, String eTag, String body) {
    }

    /**
     * Sends {@code file} (its size is the signed content length) to the presigned {@code request}.
     * Throws the SDK's exceptions: {@link S3Exception} when the store refused it, {@link
     * SdkClientException} when it never answered (unreachable, cut mid-way, TLS).
     */
    Answer put(PresignedPutObjectRequest request, Path file) {
        StringBuilder config = new StringBuilder();
        line(config, "url", request.url().toString());
        line(config, "upload-file", file.toAbsolutePath().toString());
        for (Map.Entry<String, List<String>> h : request.signedHeaders().entrySet()) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (name.equals("host") || name.equals("content-length")) {
                continue; // curl sends both, from the URL and the file (whose size is the signed length)
            }
            for (String value : h.getValue()) {
                line(config, "header", h.getKey() + ": " + value);
            }
        }
        if (request.url().getProtocol().equals("https")) {
            try {
                line(config, "cacert", trust().toString());
            } catch (IOException e) {
                throw SdkClientException.builder().message("curl could not be given this JVM's trusted authorities: "
                        + e.getMessage()).cause(e).build();
            }
        }
        line(config, "proto", "=http,https");
        line(config, "dump-header", "-");
        line(config, "write-out", STATUS_MARK + "%{http_code}");
        line(config, "connect-timeout", "10");
        // As the SDK's socket timeout: a store that takes nothing for two minutes is gone.
        line(config, "speed-limit", "1");
        line(config, "speed-time", "120");
        config.append("silent\nshow-error\n");
        byte[] configuration = config.toString().getBytes(StandardCharsets.UTF_8);

        // The project's runner: drained on named threads, killed when interrupted, and tied to this JVM's
        // life (setpriv --pdeathsig), so a stopped or killed Backstop leaves no upload running behind it.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProcessRunner.Result result = RUNNER.run(ProcessRunner.Spec.of(List.of(curl.toString(), "-q", "--config", "-"),
                Map.of(), UPLOAD_LIMIT).withStdin(in -> in.write(configuration)).withStdout(in -> in.transferTo(out)),
                process -> { });
        if (result.exitCode() != 0) {
            // Its first line says it ("curl: (60) SSL certificate problem: ..."); advice about curl itself follows.
            throw transportFailure(result.exitCode(), scrub(result.stderrTail().strip().lines().findFirst()
                    .orElse("")));
        }
        Answer answer = parse(out.toString(StandardCharsets.UTF_8));
        if (answer.status() / 100 != 2) {
            throw refusal(answer);
        }
        return answer;
    }

    /** One line of a curl configuration: {@code name = "value"}, quoted as curl reads it. */
    private static void line(StringBuilder config, String name, String value) {
        StringBuilder quoted = new StringBuilder();
        for (char c : value.toCharArray()) {
            switch (c) {
                case '\\' -> quoted.append("\\\\");
                case '"' -> quoted.append("\\\"");
                case '\n' -> quoted.append("\\n");
                case '\r' -> quoted.append("\\r");
                case '\t' -> quoted.append("\\t");
                default -> quoted.append(c);
            }
        }
        config.append(name).append(" = \"").append(quoted).append("\"\n");
    }

    /**
     * What curl printed: the answer's header blocks (a {@code 100 Continue} first, perhaps), its body,
     * and the status after {@link #STATUS_MARK}.
     */
    static Answer parse(String out) {
        int mark = out.lastIndexOf(STATUS_MARK);
        if (mark < 0) {
            throw SdkClientException.create("curl printed no HTTP status: " + abbreviate(out));
        }
        int status;
        try {
            status = Integer.parseInt(out.substring(mark + STATUS_MARK.length()).strip());
        } catch (NumberFormatException e) {
            throw SdkClientException.create("curl printed no HTTP status: " + abbreviate(out));
        }
        String rest = out.substring(0, mark);
        String eTag = null;
        int bodyStart = 0;
        // Each header block starts with the status line and ends with an empty line; the body follows the last.
        while (rest.startsWith("HTTP/", bodyStart)) {
            int end = rest.indexOf("\r\n\r\n", bodyStart);
            int skip = 4;
            if (end < 0) {
                end = rest.indexOf("\n\n", bodyStart);
                skip = 2;
            }
            if (end < 0) {
                end = rest.length();
                skip = 0;
            }
            eTag = null;
            for (String header : rest.substring(bodyStart, end).split("\r?\n")) {
                int colon = header.indexOf(':');
                if (colon > 0 && header.substring(0, colon).strip().equalsIgnoreCase("etag")) {
                    eTag = header.substring(colon + 1).strip();
                }
            }
            bodyStart = Math.min(rest.length(), end + skip);
        }
        return new Answer(status, eTag, rest.substring(bodyStart));
    }

    /** The store's refusal, as the SDK would have raised it (its code and message from the XML body). */
    static S3Exception refusal(Answer answer) {
        Matcher code = CODE.matcher(answer.body());
        Matcher message = MESSAGE.matcher(answer.body());
        String c = code.find() ? code.group(1) : String.valueOf(answer.status());
        String m = message.find() ? message.group(1) : abbreviate(answer.body());
        return (S3Exception) S3Exception.builder().statusCode(answer.status())
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(c).errorMessage(m).serviceName("S3").build())
                .message(m + " (Status Code: " + answer.status() + ", " + c + ")").build();
    }

    /**
     * curl's own failures (its exit status, man curl "EXIT CODES"): the ones an unreachable store
     * gives carry the causes the SDK's would, so they read "the store is unreachable" alike.
     */
    static SdkException transportFailure(int exit, String stderr) {
        String what = "curl exited with " + exit + (stderr.isEmpty() ? "" : ": " + stderr);
        IOException cause = switch (exit) {
            case 6 -> new UnknownHostException(what);
            case 7 -> new ConnectException(what);
            case 28 -> new SocketTimeoutException(what);
            case 26 -> new IOException(what + " (reading the file to upload failed)");
            case 35, 51, 53, 54, 58, 59, 60, 66, 77, 80, 82, 83, 90, 91 -> new IOException(what + " (curl trusts the"
                    + " authorities this JVM trusts: a store with an authority of its own needs it in a trust store"
                    + " given as -Djavax.net.ssl.trustStore=FILE in JAVA_TOOL_OPTIONS)");
            default -> new IOException(what);
        };
        return SdkClientException.builder().message("curl could not send it").cause(cause).build();
    }

    /** A presigned URL's query (its signature and access key id) never reaches a message. */
    static String scrub(String text) {
        return text.replaceAll("\\?[^\\s\"'<>]*X-Amz-[^\\s\"'<>]*", "?...");
    }

    private static String abbreviate(String text) {
        String t = scrub(text.strip());
        return t.length() > 200 ? t.substring(0, 200) + "..." : t;
    }

    /**
     * The certificate authorities this JVM's default trust manager accepts, as a PEM file for curl's
     * {@code --cacert}: the same trust decision whichever client connects. Public certificates only.
     */
    private synchronized Path trust() throws IOException {
        if (trust != null) {
            return trust;
        }
        X509Certificate[] issuers;
        try {
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init((KeyStore) null);
            issuers = java.util.Arrays.stream(factory.getTrustManagers()).filter(X509TrustManager.class::isInstance)
                    .map(X509TrustManager.class::cast).findFirst()
                    .map(X509TrustManager::getAcceptedIssuers).orElse(new X509Certificate[0]);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot read this JVM's trusted certificate authorities: " + e.getMessage(), e);
        }
        StringBuilder pem = new StringBuilder();
        Base64.Encoder base64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        for (X509Certificate c : issuers) {
            try {
                pem.append("-----BEGIN CERTIFICATE-----\n").append(base64.encodeToString(c.getEncoded()))
                        .append("\n-----END CERTIFICATE-----\n");
            } catch (CertificateEncodingException e) {
                // one the JVM holds but cannot encode: curl does without it
            }
        }
        Path file = Files.createTempFile("backstop-trust-", ".pem");
        file.toFile().deleteOnExit();
        Files.writeString(file, pem, StandardCharsets.US_ASCII);
        trust = file;
        return file;
    }

    /**
     * Reads the trusted authorities ahead, on a thread of its own, while the SDK connects for the
     * bucket check: the first upload does not wait for it. A failure here is met again, and reported,
     * by the upload.
     */
    void prepare(boolean https, Runnable alsoAhead) {
        Background.start("curl-prepare", () -> {
            alsoAhead.run();
            if (https) {
                try {
                    trust();
                } catch (IOException | RuntimeException e) {
                    // the upload reads it again and reports what fails
                }
            }
        });
    }

    /** Removes the trust file. */
    void close() {
        if (trust != null) {
            try {
                Files.deleteIfExists(trust);
            } catch (IOException ignored) {
                // deleted at exit
            }
        }
    }

    /** curl at {@code command}, where this host has it. */
    static Optional<CurlPut> installed(Path command) {
        return Files.isExecutable(command) ? Optional.of(new CurlPut(command)) : Optional.empty();
    }
}
