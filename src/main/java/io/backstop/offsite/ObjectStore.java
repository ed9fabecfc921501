package io.backstop.offsite;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings.ObjectLock;
import io.backstop.config.Settings.Offsite;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectLockMode;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;
import software.amazon.awssdk.services.s3.presigner.model.PresignedPutObjectRequest;

/**
 * One S3-compatible bucket, through the AWS SDK's S3 client. Uploads send a checksum the store
 * verifies on receipt ({@link Checksum}: CRC32C by default), given up front in a header instead of
 * the SDK's default CRC32 trailer, which many S3-compatible stores reject.
 * Over https the payload itself is not signed (the checksum covers it), so a file is read once; over
 * plain http the SDK insists on signing it, in aws-chunked frames (a SHA-256 pass on each side). A
 * single upload's bytes go by curl where it is installed ({@link CurlPut}: signed here, sent by
 * OpenSSL, never signed per chunk), unless {@code offsite.uploader = sdk}. Large files
 * go up in parts; a failed multipart upload is aborted, so no partial object ever appears under a
 * final name. Every SDK failure becomes a {@link BackstopException} that says what went wrong in
 * an operator's words and never carries a key.
 */
public final class ObjectStore implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ObjectStore.class);
    private final Offsite settings;
    /** offsite.checksum, until the store says it does not implement that header (then Content-MD5). */
    private volatile Checksum algorithm;
    private volatile boolean fellBack;
    private final S3Client s3;
    /** What sends single uploads' bytes (offsite.uploader): curl, or empty for the SDK. */
    private final Optional<CurlPut> curl;
    private S3Presigner presigner;

    public ObjectStore(Offsite settings) {
        this(settings, CurlPut.CURL);
    }

    /** With the curl command at {@code curlCommand} (when offsite.uploader allows it and it is there). */
    ObjectStore(Offsite settings, Path curlCommand) {
        this.settings = settings;
        this.algorithm = Checksum.parse(settings.checksum());
        this.s3 = S3Clients.client(settings);
        this.curl = switch (settings.uploader()) {
            case "sdk" -> Optional.empty();
            case "curl" -> Optional.of(CurlPut.installed(curlCommand).orElseThrow(() -> new BackstopException(
                    ExitCode.USAGE, "backstop.offsite.uploader is curl but " + curlCommand + " is not installed;"
                            + " allowed: install curl, or uploader = auto (curl where installed, else the AWS SDK)"
                            + " or sdk")));
            default -> CurlPut.installed(curlCommand);
        };
        curl.ifPresent(c -> c.prepare(!settings.endpoint().map(e -> "http".equalsIgnoreCase(e.getScheme()))
                .orElse(false), this::presigner));
    }

    private synchronized S3Presigner presigner() {
        if (presigner == null) {
            presigner = S3Clients.presigner(settings);
        }
        return presigner;
    }

    /** What the store says it holds under a key. {@code checksum} is null when the store keeps none. */
    public record Head(long size, String eTag, String checksum, Map<String, String> metadata, Instant retainUntil) {
    }

    /** One object of a listing. */
    public record Listed(String key, long size) {
    }

    /**
     * What a delete came to: gone, or refused by the store (object lock answers 403 AccessDenied; a
     * store or policy without deletes 405 or 501), with the store's answer. A refused copy stays.
     */
    public record Deleted(boolean gone, String refusal) {
    }

    /**
     * Checksums of what was sent: {@code checksum} is what the store reports back for the whole object
     * (a composite "-N" value for a multipart upload), {@code method} how it is compared, {@code by}
     * what sent the bytes.
     */
    public record Sent(long size, String checksum, String eTag, String method, String by) {
        Sent(long size, String checksum, String eTag, String method) {
            this(size, checksum, eTag, method, "the AWS SDK");
        }
    }

    /** The object as the store holds it must be what was sent: size, checksum, and sha256 metadata (when given). */
    public String readBack(String key, Sent sent, String sha256Hex) {
        Head head = head(key).orElseThrow(() -> new BackstopException(ExitCode.OFFSITE,
                "uploaded " + key + " to " + where() + " but it is not there on read back"));
        if (head.size() != sent.size()) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + where() + " reads back " + head.size()
                    + " bytes; " + sent.size() + " were sent");
        }
        if (sha256Hex != null && !sha256Hex.equals(head.metadata().get("backstop-sha256"))) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + where() + " reads back another sha256"
                    + " in its metadata than was sent");
        }
        if (sent.checksum() != null && head.checksum() != null) {
            if (!sent.checksum().equals(head.checksum())) {
                throw new BackstopException(ExitCode.OFFSITE, key + " in " + where() + ": the store's checksum "
                        + head.checksum() + " is not the " + sent.checksum() + " sent");
            }
            return "size + " + sent.method() + " read back";
        }
        if (sent.eTag() == null) {
            return sha256Hex != null ? "size + sha256 metadata read back" : "size read back";
        }
        if (head.eTag() != null && !sent.eTag().equals(head.eTag())) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + where() + " reads back ETag " + head.eTag()
                    + ", the upload answered " + sent.eTag());
        }
        return "size + ETag read back (the store keeps no " + sent.method() + ")";
    }

    /** The checksum each upload carries. */
    public Checksum checksum() {
        return algorithm;
    }


    /** Where the store is, for messages: the endpoint (or AWS) and the bucket. */
    public String where() {
        return settings.describe() + settings.endpoint().map(e -> " at " + e).orElse(" (AWS " + settings.region() + ")");
    }

    /**
     * Uploads {@code length} bytes of {@code file} to {@code key}: one PUT up to the multipart
     * threshold, else parts. {@code known}: the file's {@link #checksum()} (base64), when already
     * taken. {@code lock} adds object-lock retention until {@code retainUntil}.
     */
    public Sent upload(String key, Path file, long length, Optional<String> known, Map<String, String> metadata,
            Optional<ObjectLock> lock, Instant retainUntil) {
        try {
            try {
                return uploadOnce(key, file, length, known, metadata, lock, retainUntil);
            } catch (SdkException e) {
                if (!fallBack(e)) {
                    throw e;
                }
                return uploadOnce(key, file, length, Optional.empty(), metadata, lock, retainUntil);
            }
        } catch (SdkException e) {
            throw failure("uploading " + key, e);
        } catch (IOException e) {
            throw new BackstopException(ExitCode.STORAGE, "uploading " + key + ": reading " + file + " failed: "
                    + e.getMessage(), e);
        }
    }

    private Sent uploadOnce(String key, Path file, long length, Optional<String> known, Map<String, String> metadata,
            Optional<ObjectLock> lock, Instant retainUntil) throws IOException {
        if (length <= settings.multipartThreshold()) {
            // A checksum taken ahead is of the configured algorithm: not the one sent once the store refused it.
            return single(key, file, length, fellBack ? Optional.empty() : known, metadata, lock, retainUntil);
        }
        return Multipart.upload(s3, settings, algorithm, key, file, length, metadata, lock, retainUntil);
    }

    /**
     * A store older than the x-amz-checksum headers answers 501 NotImplemented to them: every retry
     * would fail the same way. Content-MD5, which every S3 API has verified since the beginning, is
     * sent instead from then on, said once in the log. True when the request is worth repeating.
     */
    private boolean fallBack(SdkException e) {
        Checksum refused = algorithm;
        if (refused == Checksum.MD5 || !StoreErrors.notImplemented(e)) {
            return false;
        }
        synchronized (this) {
            if (!fellBack) {
                fellBack = true;
                algorithm = Checksum.MD5;
                log.warn("offsite: {} does not implement the x-amz-checksum-{} header ({}): sending Content-MD5 instead,"
                        + " which the store verifies as well. Set offsite.checksum = md5 for this store to say so"
                        + " (BACKSTOP_OFFSITE_CHECKSUM=md5)", where(), refused.label(), StoreErrors.describe(e));
            }
        }
        return true;
    }

    private Sent single(String key, Path file, long length, Optional<String> known, Map<String, String> metadata,
            Optional<ObjectLock> lock, Instant retainUntil) throws IOException {
        String value = known.isPresent() ? known.get() : algorithm.of(file, 0, length);
        PutObjectRequest put = putRequest(key, length, "application/octet-stream", value, lock, retainUntil)
                .metadata(metadata).build();
        if (curl.isPresent()) {
            // Signed here for this one request, sent by curl; the store verifies the same checksum header.
            PresignedPutObjectRequest signed = presigner().presignPutObject(r -> r.putObjectRequest(put)
                    .signatureDuration(Duration.ofMinutes(15)));
            CurlPut.Answer answer = curl.get().put(signed, file);
            return new Sent(length, algorithm == Checksum.MD5 ? null : value, unquote(answer.eTag()),
                    algorithm.label(), "curl");
        }
        var response = s3.putObject(put, RequestBody.fromContentProvider(() -> FileRegion.open(file, 0, length), length,
                "application/octet-stream"));
        return new Sent(length, algorithm == Checksum.MD5 ? null : value, unquote(response.eTag()), algorithm.label());
    }

    /** A PUT of {@code length} bytes with the checksum the store verifies ({@code value}) and the lock, if any. */
    private PutObjectRequest.Builder putRequest(String key, long length, String type, String value,
            Optional<ObjectLock> lock, Instant retainUntil) {
        PutObjectRequest.Builder put = PutObjectRequest.builder().bucket(settings.bucket()).key(key)
                .contentLength(length).contentType(type);
        algorithm.put(put, value);
        lock.ifPresent(l -> put.objectLockMode(ObjectLockMode.fromValue(l.mode().toUpperCase(Locale.ROOT)))
                .objectLockRetainUntilDate(retainUntil));
        return put;
    }

    /** A small object (a manifest) in one PUT, with its checksum. */
    public void putSmall(String key, byte[] body, Optional<ObjectLock> lock, Instant retainUntil) {
        try {
            try {
                putSmallOnce(key, body, lock, retainUntil);
            } catch (SdkException e) {
                if (!fallBack(e)) {
                    throw e;
                }
                putSmallOnce(key, body, lock, retainUntil);
            }
        } catch (SdkException e) {
            throw failure("uploading " + key, e);
        }
    }

    private void putSmallOnce(String key, byte[] body, Optional<ObjectLock> lock, Instant retainUntil) {
        Checksum.Sum sum = algorithm.start();
        sum.update(body, 0, body.length);
        s3.putObject(putRequest(key, body.length, "application/json", sum.base64(), lock, retainUntil).build(),
                RequestBody.fromBytes(body));
    }

    /** A server-side copy (a promotion: the same bytes under another tier's key). */
    public void copy(String fromKey, String toKey, Optional<ObjectLock> lock, Instant retainUntil) {
        try {
            s3.copyObject(c -> {
                c.sourceBucket(settings.bucket()).sourceKey(fromKey).destinationBucket(settings.bucket())
                        .destinationKey(toKey);
                lock.ifPresent(l -> c.objectLockMode(ObjectLockMode.fromValue(l.mode().toUpperCase(Locale.ROOT)))
                        .objectLockRetainUntilDate(retainUntil));
            });
        } catch (SdkException e) {
            throw failure("copying " + fromKey + " to " + toKey, e);
        }
    }

    /** The bucket is there and takes these credentials: one cheap request, also when nothing is to be copied. */
    public void check() {
        try {
            s3.headBucket(r -> r.bucket(settings.bucket()));
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && (e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null
                    || e.awsErrorDetails().errorCode().equals("NoSuchBucket") || e.awsErrorDetails().errorCode().equals("404")
                    || e.awsErrorDetails().errorCode().isEmpty())) {
                throw new BackstopException(ExitCode.OFFSITE, "checking bucket " + settings.bucket() + " in " + where()
                        + ": bucket " + settings.bucket() + " does not exist there (NoSuchBucket): create it, or fix"
                        + " offsite.url");
            }
            if (e.statusCode() == 403 && (e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null
                    || e.awsErrorDetails().errorCode().isEmpty() || e.awsErrorDetails().errorCode().equals("403"))) {
                // HEAD answers carry no body: a bare 403 is the credentials (or a policy without s3:ListBucket)
                throw new BackstopException(ExitCode.OFFSITE, "checking bucket " + settings.bucket() + " in " + where()
                        + ": the store refused the credentials or the request (403): check offsite.access-key and"
                        + " offsite.secret-key (or their _FILE variables) and the key's permissions on the bucket");
            }
            throw failure("checking bucket " + settings.bucket(), e);
        } catch (SdkException e) {
            throw failure("checking bucket " + settings.bucket(), e);
        }
    }

    public Optional<Head> head(String key) {
        try {
            HeadObjectResponse h;
            try {
                h = headOnce(key);
            } catch (S3Exception e) {
                if (!fallBack(e)) {
                    throw e;
                }
                h = headOnce(key);
            }
            return Optional.of(new Head(h.contentLength(), unquote(h.eTag()), algorithm.of(h), h.metadata(),
                    h.objectLockRetainUntilDate()));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw failure("reading back " + key, e);
        } catch (SdkException e) {
            throw failure("reading back " + key, e);
        }
    }

    /** The store's checksum is asked for only where it keeps one a header can name (not with Content-MD5). */
    private HeadObjectResponse headOnce(String key) {
        Checksum asked = algorithm;
        return s3.headObject(r -> {
            r.bucket(settings.bucket()).key(key);
            if (asked != Checksum.MD5) {
                r.checksumMode(ChecksumMode.ENABLED);
            }
        });
    }

    /** Every object under {@code prefix}. */
    public List<Listed> list(String prefix) {
        try {
            List<Listed> all = new ArrayList<>();
            for (S3Object o : s3.listObjectsV2Paginator(r -> r.bucket(settings.bucket()).prefix(prefix)).contents()) {
                all.add(new Listed(o.key(), o.size()));
            }
            return all;
        } catch (SdkException e) {
            throw failure("listing " + settings.describe(), e);
        }
    }

    public InputStream get(String key) {
        try {
            ResponseInputStream<GetObjectResponse> in = s3.getObject(r -> r.bucket(settings.bucket()).key(key));
            return in;
        } catch (NoSuchKeyException e) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "no object " + key + " in " + where());
        } catch (SdkException e) {
            throw failure("downloading " + key, e);
        }
    }

    public byte[] getSmall(String key) {
        try (InputStream in = get(key)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new BackstopException(ExitCode.OFFSITE, "downloading " + key + " from " + where() + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** Deletes {@code key}; a store that refuses (object lock, a policy) is an answer, not an error. */
    public Deleted delete(String key) {
        try {
            s3.deleteObject(r -> r.bucket(settings.bucket()).key(key));
            return new Deleted(true, null);
        } catch (S3Exception e) {
            int status = e.statusCode();
            if ((status == 403 && !StoreErrors.isCredentialProblem(e)) || status == 405 || status == 501) {
                return new Deleted(false, status + " " + (e.awsErrorDetails() == null ? ""
                        : e.awsErrorDetails().errorCode()));
            }
            throw failure("deleting " + key, e);
        } catch (SdkException e) {
            throw failure("deleting " + key, e);
        }
    }

    static String unquote(String eTag) {
        return eTag == null ? null : eTag.replace("\"", "");
    }

    /** An SDK failure in an operator's words: which store, what it said, what to check. Never a key. */
    BackstopException failure(String what, SdkException e) {
        return StoreErrors.failure(what + " in " + where(), settings.bucket(), algorithm == Checksum.MD5, e);
    }

    @Override
    public void close() {
        s3.close();
        curl.ifPresent(CurlPut::close);
        if (presigner != null) {
            presigner.close();
        }
    }
}
