package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.backstop.BackstopException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code databases}: a target entry that stands for every matching database of its server. */
class TargetFamiliesTest {
    @TempDir
    Path dir;

    private Settings load(String conf) throws Exception {
        Path file = Files.writeString(dir.resolve("backstop.conf"), conf);
        return new SettingsLoader(Map.of()).load(Optional.of(file));
    }

    @Test
    void aFamilyIsReadAsATemplateBesideTheTargetsOfOneDatabase() throws Exception {
        Settings s = load("""
                backstop.targets = [
                  { name = app, database = app }
                  { name = pg, host = db, databases = "*", exclude-databases = ["postgres", "test_*"] }
                  { name = tenants, host = db, databases = ["tenant_*", "shared"] }
                ]
                """);
        assertThat(s.targets()).extracting(Settings.Target::name).containsExactly("app");
        assertThat(s.families()).extracting(Settings.Family::name).containsExactly("pg", "tenants");
        assertThat(s.families().get(0).include()).containsExactly("*");
        assertThat(s.families().get(0).exclude()).containsExactly("postgres", "test_*");
        assertThat(s.families().get(0).template().host()).isEqualTo("db");
        assertThat(s.families().get(1).include()).containsExactly("tenant_*", "shared");
    }

    @Test
    void streamingWalPerDatabaseAndEmptyPatternsAreRefused() {
        BackstopException e = catchThrowableOfType(BackstopException.class, () -> load("""
                backstop.targets = [
                  { name = pg, databases = "*", pitr { enabled = true } }
                  { name = other, databases = ["", "x"] }
                ]
                """));
        assertThat(e.getMessage()).contains("backstop.targets[0].pitr.enabled: WAL streaming is one per server")
                .contains("backstop.targets[1].databases: must not hold an empty pattern");
    }
}
