package io.backstop.guard;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** guard scan over fixture trees of migrations and scripts: every destructive line found, nothing in a safe tree. */
class GuardScanTest {
    private static final Path FIXTURES = Path.of("src/test/resources/guard-scan");

    @TempDir
    Path dir;

    @Test
    void everyDestructiveStatementAndCommandIsFoundWithItsFileAndLine() throws Exception {
        List<Scan.Finding> found = new Scan(Guard.withRules(Optional.empty())).scan(List.of(FIXTURES.resolve("destructive")));
        List<String> where = found.stream().map(f -> FIXTURES.resolve("destructive").relativize(f.file()) + ":" + f.line())
                .toList();
        assertThat(where).containsExactlyInAnyOrder(
                ".github/workflows/preview.yml:11",
                ".gitlab-ci.yml:6",
                "Makefile:5",
                "alembic/versions/7f3a_remove_events.py:10",
                "db/migrate/20261101120000_drop_sessions.rb:3",
                "db/migrations/V3__retire_legacy.sql:5",
                "migrations/20261101_audit.js:2",
                "package.json:5",
                "prisma/migrations/20261101120000_trim/migration.sql:5",
                "scripts/reset-staging.sh:5",
                "shop/migrations/0007_remove_order_coupon.py:8");
    }

    @Test
    void aSafeTreeDownMigrationsAndDestructiveWordsInStringsAndCommentsIncludedGivesNothing() throws Exception {
        assertThat(new Scan(Guard.withRules(Optional.empty())).scan(List.of(FIXTURES.resolve("safe")))).isEmpty();
    }

    @Test
    void theCommandExitsAsTheWorstFindingAndNamesFileAndLine() throws Exception {
        Path empty = Files.createFile(dir.resolve("empty.conf"));
        Map<String, String> env = Map.of("BACKSTOP_CONFIG", empty.toString(), "PATH", System.getenv("PATH"));
        Cli.Result destructive = Cli.run(env, "guard", "scan", FIXTURES.resolve("destructive").toString());
        assertThat(destructive.status()).as(destructive.all()).isEqualTo(ExitCode.GUARD_ASK.status());
        assertThat(destructive.out()).contains("V3__retire_legacy.sql:5: ask: destructive SQL: DROP TABLE legacy_notes",
                "11 destructive statements or commands");
        Cli.Result safe = Cli.run(env, "guard", "scan", FIXTURES.resolve("safe").toString());
        assertThat(safe.status()).as(safe.all()).isZero();
        assertThat(safe.out()).contains("nothing destructive found");

        Path backups = Files.writeString(dir.resolve("cleanup.sh"), "#!/bin/sh\nrm -rf ./backups/app\n");
        Cli.Result blocked = Cli.run(env, "guard", "scan", backups.toString());
        assertThat(blocked.status()).isEqualTo(ExitCode.GUARD_BLOCK.status());
        assertThat(blocked.out()).contains("cleanup.sh:2: block:");
        Cli.Result missing = Cli.run(env, "guard", "scan", dir.resolve("nope").toString());
        assertThat(missing.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(missing.err()).contains("nope does not exist");
    }

    @Test
    void batchAnswersEveryLineInOrderAndRefusesALineItCannotRead() {
        String in = """
                {"command": "ls -la"}
                {"command": "psql -c 'DROP TABLE users'"}
                not json
                {"command": "rm -rf ./backups"}
                """;
        java.io.InputStream saved = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream(in.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            Cli.Result r = Cli.run(Map.of("BACKSTOP_CONFIG", "/dev/null", "PATH", System.getenv("PATH")), "guard", "--batch");
            List<String> lines = r.out().lines().toList();
            assertThat(lines).hasSize(4);
            assertThat(lines.get(0)).contains("\"decision\":\"allow\"");
            assertThat(lines.get(1)).contains("\"decision\":\"ask\"", "sql-drop-table");
            assertThat(lines.get(2)).contains("\"decision\":\"block\"", "batch-input");
            assertThat(lines.get(3)).contains("\"decision\":\"block\"", "rm-backups");
            assertThat(r.status()).isEqualTo(ExitCode.GUARD_BLOCK.status());
        } finally {
            System.setIn(saved);
        }
    }
}
