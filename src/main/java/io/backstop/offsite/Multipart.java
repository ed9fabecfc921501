package io.backstop.offsite;

import io.backstop.config.Settings.ObjectLock;
import io.backstop.config.Settings.Offsite;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.ObjectLockMode;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * An upload past the multipart threshold: parts of {@code offsite.part-size}, each with its own checksum,
 * completed with the checksum of the parts' checksums; aborted on a failure (the store drops the parts).
 */
final class Multipart {
    private Multipart() {
    }

    static ObjectStore.Sent upload(S3Client s3, Offsite settings, Checksum algorithm, String key, Path file,
            long length, Map<String, String> metadata, Optional<ObjectLock> lock, Instant retainUntil) throws IOException {
        CreateMultipartUploadRequest.Builder create = CreateMultipartUploadRequest.builder().bucket(settings.bucket())
                .key(key).contentType("application/octet-stream").metadata(metadata);
        algorithm.create(create);
        lock.ifPresent(l -> create.objectLockMode(ObjectLockMode.fromValue(l.mode().toUpperCase(Locale.ROOT)))
                .objectLockRetainUntilDate(retainUntil));
        String uploadId = s3.createMultipartUpload(create.build()).uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            List<String> values = new ArrayList<>();
            int number = 1;
            for (long offset = 0; offset < length; offset += settings.partSize(), number++) {
                long size = Math.min(settings.partSize(), length - offset);
                String value = algorithm.of(file, offset, size);
                values.add(value);
                UploadPartRequest.Builder part = UploadPartRequest.builder().bucket(settings.bucket()).key(key)
                        .uploadId(uploadId).partNumber(number).contentLength(size);
                algorithm.part(part, value);
                long from = offset;
                var response = s3.uploadPart(part.build(),
                        RequestBody.fromContentProvider(() -> FileRegion.open(file, from, size), size, "application/octet-stream"));
                CompletedPart.Builder done = CompletedPart.builder().partNumber(number).eTag(response.eTag());
                algorithm.completed(done, value);
                parts.add(done.build());
            }
            var complete = s3.completeMultipartUpload(c -> c.bucket(settings.bucket()).key(key).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(parts)));
            return new ObjectStore.Sent(length, algorithm == Checksum.MD5 ? null : algorithm.composite(values),
                    ObjectStore.unquote(complete.eTag()), algorithm.label() + " of part " + algorithm.label() + "s");
        } catch (RuntimeException | IOException e) {
            try {
                s3.abortMultipartUpload(a -> a.bucket(settings.bucket()).key(key).uploadId(uploadId));
            } catch (SdkException abortFailed) {
                e.addSuppressed(abortFailed); // the store drops abandoned parts itself (lifecycle); never visible
            }
            throw e;
        }
    }
}
