package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsLoaderTest {
    @TempDir
    Path dir;

    private Settings load(String conf, Map<String, String> env) throws IOException {
        Path file = dir.resolve("backstop.conf");
        Files.writeString(file, conf);
        return new SettingsLoader(env).load(Optional.of(file));
    }

    private Settings load(String conf) throws IOException {
        return load(conf, Map.of());
    }

    private BackstopException failure(String conf) {
        return failure(conf, Map.of());
    }

    private BackstopException failure(String conf, Map<String, String> env) {
        try {
            load(conf, env);
        } catch (BackstopException e) {
            assertThat(e.code()).isEqualTo(ExitCode.USAGE);
            return e;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new AssertionError("configuration was accepted:\n" + conf);
    }

    @Nested
    class Defaults {
        @Test
        void anEmptyFileGivesTheDocumentedDefaults() throws IOException {
            Settings s = load("");
            assertThat(s.backupDir()).isEqualTo(Path.of("/backups"));
            assertThat(s.schedule()).isEqualTo("0 0 * * * ?");
            assertThat(s.timezone()).isEqualTo(ZoneId.of("UTC"));
            assertThat(s.staleAfter()).isEqualTo(Duration.ofHours(2));
            assertThat(s.retention()).isEqualTo(new Settings.Retention(24, 7, 0, 0, 20, 10));
            assertThat(s.pgDump().lockWaitTimeout()).isEqualTo(Duration.ofMinutes(5));
            assertThat(s.pgDump().timeout()).isEqualTo(Duration.ofHours(6));
            assertThat(s.rowCounts().dropThreshold()).isEqualTo(0.05);
            assertThat(s.rowCounts().checkInterval()).isEqualTo(Duration.ofMinutes(5));
            assertThat(s.http().port()).isEqualTo(8080);
            assertThat(s.http().token().isPresent()).isFalse();
            assertThat(s.targets()).singleElement().satisfies(t -> {
                assertThat(t.name()).isEqualTo("app");
                assertThat(t.host()).isEqualTo("localhost");
                assertThat(t.port()).isEqualTo(5432);
                assertThat(t.database()).isEqualTo("postgres");
            });
        }

        @Test
        void libpqVariablesDescribeTheDefaultTarget() throws IOException {
            Settings s = load("", Map.of("PGHOST", "db", "PGPORT", "6543", "PGDATABASE", "shop", "PGUSER", "shopper",
                    "PGPASSWORD", "hunter2"));
            Settings.Target t = s.targets().get(0);
            assertThat(t.describe()).isEqualTo("shopper@db:6543/shop");
            assertThat(t.password().reveal()).isEqualTo("hunter2");
            assertThat(t.toString()).doesNotContain("hunter2");
        }

        @Test
        void libpqVariablesFillFieldsATargetLeavesOut() throws IOException {
            Settings s = load("backstop.targets = [ { name = a, host = one }, { name = b, database = other } ]",
                    Map.of("PGHOST", "envhost", "PGDATABASE", "envdb"));
            assertThat(s.targets().get(0).host()).isEqualTo("one");
            assertThat(s.targets().get(0).database()).isEqualTo("envdb");
            assertThat(s.targets().get(1).host()).isEqualTo("envhost");
            assertThat(s.targets().get(1).database()).isEqualTo("other");
        }

        @Test
        void passwordFileWinsAndIsTrimmed() throws IOException {
            Path secret = dir.resolve("pw");
            Files.writeString(secret, "from-file\n");
            Settings s = load("", Map.of("PGPASSWORD", "from-env", "PGPASSWORD_FILE", secret.toString()));
            assertThat(s.targets().get(0).password().reveal()).isEqualTo("from-file");
        }

        @Test
        void environmentOverridesTheOperatorsFile() throws IOException {
            Settings s = load("backstop { backup-dir = /from-file, retention.hourly = 3 }",
                    Map.of("BACKSTOP_BACKUP_DIR", "/from-env"));
            assertThat(s.backupDir()).isEqualTo(Path.of("/from-env"));
            assertThat(s.retention().hourly()).isEqualTo(3);
        }
    }

    @Nested
    class Problems {
        @Test
        void aBadValueNamesItsFullKeyWhatIsAllowedAndTheLine() {
            BackstopException e = failure("backstop {\n  retention {\n    hourly = -1\n  }\n}\n");
            assertThat(e.getMessage()).contains("backstop.retention.hourly", "from 0 to 10000", "was -1", "line 3");
        }

        @Test
        void twoBadValuesAreReportedTogether() {
            BackstopException e = failure("backstop.schedule = \"every hour\"\nbackstop.row-counts.drop-threshold = 5\n");
            assertThat(e.getMessage()).contains("2 problems", "backstop.schedule", "Quartz cron",
                    "backstop.row-counts.drop-threshold", "fraction from 0 to 1");
        }

        @Test
        void wrongTypesAreReportedWithTheirKey() {
            BackstopException e = failure("backstop.stale-after = [1]\nbackstop.http.port = lots\n");
            assertThat(e.getMessage()).contains("backstop.stale-after", "backstop.http.port");
        }

        @Test
        void anUnknownKeyIsRejectedWithTheKeysAllowedThere() {
            BackstopException e = failure("backstop.retention.hourlly = 5\n");
            assertThat(e.getMessage()).contains("backstop.retention.hourlly: unknown key", "hourly", "daily");
        }

        @Test
        void anUnknownTopLevelKeyIsRejected() {
            assertThat(failure("backstopp.schedule = x\n").getMessage()).contains("backstopp: unknown top-level key");
        }

        @Test
        void anUnknownTargetKeyIsRejected() {
            assertThat(failure("backstop.targets = [ { name = a, hots = db } ]").getMessage())
                    .contains("backstop.targets[0].hots: unknown key", "host");
        }

        @Test
        void targetNamesMustBeFileNameSafeAndUnique() {
            BackstopException e = failure("backstop.targets = [ { name = \"a/b\" }, { name = x }, { name = x } ]");
            assertThat(e.getMessage()).contains("backstop.targets[0].name", "letters, digits",
                    "backstop.targets[2].name: \"x\" is used by another target");
        }

        @Test
        void badEnvironmentValuesNameTheKey() {
            BackstopException e = failure("", Map.of("PGPORT", "99999", "BACKSTOP_TIMEZONE", "Mars/Olympus"));
            assertThat(e.getMessage()).contains("backstop.targets[0].port", "99999", "backstop.timezone", "Mars/Olympus");
        }

        @Test
        void anUnreadablePasswordFileNamesTheFileNotItsContent() {
            BackstopException e = failure("", Map.of("PGPASSWORD_FILE", "/nonexistent/secret"));
            assertThat(e.getMessage()).contains("backstop.targets[0].password-file", "/nonexistent/secret");
        }

        @Test
        void extraArgsMayNotTakeOverWhatBackstopSets() {
            BackstopException e = failure("backstop.pg-dump.extra-args = [\"--file=/tmp/x\", \"-Fp\", \"--exclude-table-data=log\"]");
            assertThat(e.getMessage()).contains("backstop.pg-dump.extra-args[0]", "backstop.pg-dump.extra-args[1]")
                    .doesNotContain("extra-args[2]");
        }

        @Test
        void jobsOtherThanOneIsExplained() {
            assertThat(failure("backstop.pg-dump.jobs = 4").getMessage())
                    .contains("backstop.pg-dump.jobs", "exactly 1", "single job");
        }

        @Test
        void aPasswordInAWrongPlaceIsNeverEchoed() {
            BackstopException e = failure("backstop.targets = [ { name = a, password = \"s3cr3t\", port = x } ]");
            assertThat(e.getMessage()).contains("backstop.targets[0].port").doesNotContain("s3cr3t");
        }

        @Test
        void wrongTypedSecretsAndListsNameTheirKeysAlongsideAnUnknownKey() {
            BackstopException e = failure("""
                    backstop {
                      nonsense = 1
                      http.token = ["t0ken-value"]
                      row-counts.exclude = [{a = 1}]
                      pg-dump.extra-args = [["x"]]
                      targets = [ { name = a, password = ["pa55-value"] } ]
                    }
                    """);
            assertThat(e.getMessage()).contains("backstop.nonsense: unknown key", "backstop.http.token",
                    "backstop.row-counts.exclude", "backstop.pg-dump.extra-args", "backstop.targets[0].password")
                    .doesNotContain("t0ken-value", "pa55-value", "internal error");
        }

        @Test
        void aScheduleThatNeverFiresIsRejectedUpFront() {
            BackstopException e = failure("backstop.schedule = \"0 0 0 30 2 ?\"");
            assertThat(e.getMessage()).contains("backstop.schedule", "fires in the future");
        }

        @Test
        void aMissingConfigFileIsAUsageError() {
            Map<String, String> env = new HashMap<>();
            env.put("BACKSTOP_CONFIG", dir.resolve("nope.conf").toString());
            SettingsLoader loader = new SettingsLoader(env);
            assertThatThrownBy(() -> loader.load(loader.locate(Optional.empty())))
                    .isInstanceOf(BackstopException.class).hasMessageContaining("nope.conf does not exist");
        }
    }

    @Nested
    class Offsite {
        private static final String RECIPIENT = "age1elcaj65c66vqwrdh9dmt9hfcw56kvn7mnt4uj623f4k5xvd2qpcs5umr7v";

        @Test
        void offByDefaultAndOnWithAUrlAndKeysFromFiles() throws IOException {
            assertThat(load("").offsite()).isEmpty();
            assertThat(load("").encryption().offsiteEncrypted()).isFalse();
            Path access = dir.resolve("ak");
            Path secret = dir.resolve("sk");
            Files.writeString(access, "AKIAEXAMPLE\n");
            Files.writeString(secret, "s3cret-from-file\n");
            Settings s = load("", Map.of("BACKSTOP_OFFSITE_URL", "s3://company-backups/prod/db/",
                    "BACKSTOP_OFFSITE_ENDPOINT", "https://minio.internal:9000",
                    "BACKSTOP_OFFSITE_ACCESS_KEY_FILE", access.toString(),
                    "BACKSTOP_OFFSITE_SECRET_KEY_FILE", secret.toString(),
                    "BACKSTOP_AGE_RECIPIENTS", RECIPIENT + ", " + RECIPIENT));
            Settings.Offsite o = s.offsite().orElseThrow();
            assertThat(o.bucket()).isEqualTo("company-backups");
            assertThat(o.prefix()).isEqualTo("prod/db");
            assertThat(o.endpoint()).hasValue(java.net.URI.create("https://minio.internal:9000"));
            assertThat(o.secretKey().reveal()).isEqualTo("s3cret-from-file");
            assertThat(o.toString()).doesNotContain("s3cret-from-file", "AKIAEXAMPLE");
            assertThat(o.retention()).isEqualTo(new Settings.Retention(48, 30, 12, 12, 50, 10));
            assertThat(o.lock()).isEmpty();
            assertThat(o.maxLag()).isEqualTo(Duration.ofHours(2));
            assertThat(s.encryption().recipients()).containsExactly(RECIPIENT, RECIPIENT);
            assertThat(s.encryption().offsiteEncrypted()).isTrue();
            assertThat(s.encryption().localEncrypted()).isFalse();
        }

        @Test
        void everyMistakeIsNamedAtOnceAndNoSecretIsShown() {
            BackstopException e = failure("""
                    backstop {
                      offsite { url = "s3://Bad_Bucket", checksum = crc32, part-size = 1MiB, uploader = wget,
                                object-lock { mode = forever } }
                      encryption { recipients = ["AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "age1nope"] }
                    }
                    """);
            assertThat(e.getMessage()).contains("backstop.offsite.url", "s3://BUCKET[/PREFIX]",
                    "backstop.offsite.checksum", "crc32c, sha256 or md5", "backstop.offsite.part-size", "from 5MiB",
                    "backstop.offsite.uploader", "auto, curl or sdk",
                    "backstop.offsite.object-lock.mode", "governance or compliance",
                    "backstop.encryption.recipients[0]", "is an age identity (a private key)",
                    "backstop.encryption.recipients[1]", "\"age1nope\" is not an age public key")
                    .doesNotContain("AGE-SECRET-KEY-1QQQ");
        }

        @Test
        void aUrlWithoutKeysSaysWhereKeysComeFrom() {
            BackstopException e = failure("", Map.of("BACKSTOP_OFFSITE_URL", "s3://backups-here",
                    "BACKSTOP_OFFSITE_SECRET_KEY", "only-the-secret-Zz9"));
            assertThat(e.getMessage()).contains("backstop.offsite", "access-key is empty",
                    "BACKSTOP_OFFSITE_ACCESS_KEY[_FILE]", "AWS_ACCESS_KEY_ID").doesNotContain("only-the-secret-Zz9");
        }
    }

    @Nested
    class PointInTimeRecovery {
        @Test
        void offByDefaultWithTheDocumentedDefaultsAndASlotNamedAfterTheTarget() throws IOException {
            Settings s = load("backstop.targets = [{ name = \"Shop-EU\" }]\n");
            Settings.Pitr p = s.targets().get(0).pitr();
            assertThat(p.enabled()).isFalse();
            assertThat(p.slot()).isEqualTo("backstop_shop_eu");
            assertThat(p.maxLag()).isEqualTo(java.time.Duration.ofMinutes(5));
            assertThat(p.baseBackupEvery()).isEqualTo(java.time.Duration.ofDays(1));
            assertThat(p.baseBackupKeep()).isEqualTo(2);
            assertThat(p.slotAlertBytes()).isEqualTo(1L << 30);
        }

        @Test
        void aTargetsOwnBlockOverridesTheGlobalOneKeyByKey() throws IOException {
            Settings s = load("backstop.pitr { enabled = true, max-lag = 2m }\n"
                    + "backstop.targets = [{ name = a }, { name = b, pitr { enabled = false, base-backup.keep = 5 } }]\n");
            assertThat(s.target("a").orElseThrow().pitr().enabled()).isTrue();
            Settings.Pitr b = s.target("b").orElseThrow().pitr();
            assertThat(b.enabled()).isFalse();
            assertThat(b.baseBackupKeep()).isEqualTo(5);
            assertThat(b.maxLag()).as("from the global block").isEqualTo(java.time.Duration.ofMinutes(2));
        }

        @Test
        void theEnvironmentSwitchesItOn() throws IOException {
            Settings s = load("", Map.of("BACKSTOP_PITR", "true", "BACKSTOP_PITR_BASE_BACKUP_EVERY", "6h"));
            assertThat(s.targets().get(0).pitr().enabled()).isTrue();
            assertThat(s.targets().get(0).pitr().baseBackupEvery()).isEqualTo(java.time.Duration.ofHours(6));
        }

        @Test
        void badValuesAndUnknownKeysAreNamedWithWhatIsAllowed() {
            BackstopException e = failure("backstop.pitr.slot = \"Backstop-Slot\"\n"
                    + "backstop.targets = [{ name = a, pitr { enabld = true, base-backup.keep = 0, base-backup.evry = 1h } }]\n");
            assertThat(e.getMessage()).contains("pitr.slot", "\"Backstop-Slot\"", "lower-case letters, digits and '_'",
                    "backstop.targets[0].pitr.enabld: unknown key", "enabled", "backstop.targets[0].pitr.base-backup.keep",
                    "backstop.targets[0].pitr.base-backup.evry: unknown key", "base-backup.every");
        }
    }
}
