package io.backstop.offsite;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** What an object store's refusals mean, said the way an operator needs them; never a key. */
final class StoreErrors {
    private StoreErrors() {
    }

    static boolean isCredentialProblem(S3Exception e) {
        String code = e.awsErrorDetails() == null ? "" : String.valueOf(e.awsErrorDetails().errorCode());
        return code.equals("InvalidAccessKeyId") || code.equals("SignatureDoesNotMatch")
                || code.equals("InvalidSecurity") || code.equals("ExpiredToken") || code.equals("InvalidToken");
    }

    /** An SDK failure in an operator's words: which store, what it said, what to check. Never a key. */
    static BackstopException failure(String whatWhere, String bucket, boolean md5, SdkException e) {
        String detail;
        if (e instanceof S3Exception s) {
            String code = s.awsErrorDetails() == null ? "" : String.valueOf(s.awsErrorDetails().errorCode());
            if (isCredentialProblem(s)) {
                detail = "the store refused the credentials (" + code + "): check offsite.access-key and"
                        + " offsite.secret-key (or their _FILE variables)";
            } else if (code.equals("NoSuchBucket")) {
                detail = "bucket " + bucket + " does not exist there (NoSuchBucket): create it, or fix"
                        + " offsite.url";
            } else if (code.equals("BadDigest") || code.equals("XAmzContentChecksumMismatch")
                    || code.equals("InvalidDigest") || code.contains("Checksum")) {
                detail = "the store received other bytes than were sent (" + code + "); nothing was stored under"
                        + " that name";
            } else if (notImplemented(s)) {
                detail = "the store does not implement this request (" + s.statusCode() + " " + code + ")"
                        + (md5 ? "" : "; for a store without the x-amz-checksum headers set"
                        + " offsite.checksum = md5 (BACKSTOP_OFFSITE_CHECKSUM)");
            } else if (s.statusCode() == 403) {
                detail = "access denied (" + code + "): the key lacks the permission for this request";
            } else {
                detail = "the store answered " + s.statusCode() + " " + code
                        + (s.awsErrorDetails() == null ? "" : ": " + s.awsErrorDetails().errorMessage());
            }
        } else {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            if (root instanceof ConnectException || root instanceof UnknownHostException
                    || root instanceof SocketTimeoutException || root instanceof java.net.NoRouteToHostException) {
                detail = "the store is unreachable (" + root.getClass().getSimpleName() + ": " + root.getMessage()
                        + "): check offsite.endpoint and the network";
            } else if (e instanceof SdkClientException) {
                detail = "the connection failed: " + rootMessage(e);
            } else {
                detail = rootMessage(e);
            }
        }
        return new BackstopException(ExitCode.OFFSITE, whatWhere + ": " + detail, e);
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root.getClass().getSimpleName()
                + ": " + root.getMessage() + ")";
    }


    static boolean notImplemented(SdkException e) {
        if (!(e instanceof S3Exception s)) {
            return false;
        }
        String code = s.awsErrorDetails() == null ? "" : String.valueOf(s.awsErrorDetails().errorCode());
        return s.statusCode() == 501 || code.equals("NotImplemented");
    }

    static String describe(SdkException e) {
        if (e instanceof S3Exception s) {
            String code = s.awsErrorDetails() == null ? "" : String.valueOf(s.awsErrorDetails().errorCode());
            return s.statusCode() + " " + code;
        }
        return String.valueOf(e.getMessage());
    }

}
