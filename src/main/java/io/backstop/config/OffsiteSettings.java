package io.backstop.config;

import static io.backstop.config.SettingsLoader.ROOT;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code backstop.offsite}: where verified copies go, read and checked as one block. */
final class OffsiteSettings {
    private OffsiteSettings() {
    }

    private static final Pattern S3_URL = Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(.*))?");
    private static final Set<String> LOCK_MODES = Set.of("none", "governance", "compliance");

    static Optional<Settings.Offsite> read(Values v, Problems problems) {
        String url = v.string("offsite.url", s -> s.isEmpty() || S3_URL.matcher(s).matches(),
                "empty (no offsite copies) or s3://BUCKET[/PREFIX], a bucket name of 3-63 lower-case letters, digits,"
                        + " '.' or '-'");
        String endpoint = v.string("offsite.endpoint", s -> s.isEmpty() || s.matches("https?://[^\\s/]+(/.*)?"),
                "empty (AWS) or an http(s) URL such as https://minio.internal:9000");
        Secret accessKey = v.secretOrFile("offsite.access-key");
        Secret secretKey = v.secretOrFile("offsite.secret-key");
        Settings.Retention retention = SettingsLoader.retention(v, "offsite.retention", 100_000);
        String mode = v.string("offsite.object-lock.mode", LOCK_MODES::contains, "none, governance or compliance");
        Duration period = v.duration("offsite.object-lock.period", Duration.ofDays(1));
        Duration maxLag = v.duration("offsite.max-lag", Duration.ofSeconds(1));
        Duration interval = v.duration("offsite.interval", Duration.ofSeconds(1));
        long partSize = v.bytes("offsite.part-size", 5L << 20, 5L << 30, "from 5MiB to 5GiB (the store's part limits)");
        long threshold = v.bytes("offsite.multipart-threshold", 5L << 20, 5L << 30,
                "from 5MiB to 5GiB (the largest single upload a store takes)");
        String checksum = v.string("offsite.checksum", s -> s.equals("crc32c") || s.equals("sha256") || s.equals("md5"),
                "crc32c, sha256 or md5");
        String uploader = v.string("offsite.uploader", s -> s.equals("auto") || s.equals("curl") || s.equals("sdk"),
                "auto, curl or sdk");
        String region = v.string("offsite.region", s -> !s.isBlank(), "a region name such as us-east-1");
        boolean pathStyle = v.bool("offsite.path-style");
        if (url.isEmpty() || !S3_URL.matcher(url).matches()) {
            return Optional.empty();
        }
        if (!accessKey.isPresent() || !secretKey.isPresent()) {
            problems.add(ROOT + ".offsite", "url is set but " + (accessKey.isPresent() ? "secret-key" : "access-key")
                    + " is empty; allowed: access-key/secret-key, access-key-file/secret-key-file, or the environment"
                    + " (BACKSTOP_OFFSITE_ACCESS_KEY[_FILE], BACKSTOP_OFFSITE_SECRET_KEY[_FILE], AWS_ACCESS_KEY_ID,"
                    + " AWS_SECRET_ACCESS_KEY)");
        }
        Matcher m = S3_URL.matcher(url);
        m.matches();
        String prefix = m.group(3) == null ? "" : m.group(3).replaceAll("^/+|/+$", "");
        return Optional.of(new Settings.Offsite(m.group(1), prefix,
                endpoint.isEmpty() ? Optional.empty() : Optional.of(URI.create(endpoint)), region, pathStyle,
                accessKey, secretKey, retention,
                mode.equals("none") ? Optional.empty() : Optional.of(new Settings.ObjectLock(mode, period)),
                maxLag, interval, threshold, partSize, checksum, uploader));
    }
}
