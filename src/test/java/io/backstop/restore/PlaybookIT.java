package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs docs/recovery.md: for each section, a seeded database with a verified backup, the
 * incident its hidden test line describes, then every command of its sh blocks through the
 * real ./backstop launcher, psql and pg_dump, each with its expected exit code; finally the
 * data must be back.
 */
class PlaybookIT {
    private static final Path PLAYBOOK = Path.of("docs/recovery.md");
    private static final Pattern SECTION = Pattern.compile("(?m)^## (.+)$");
    private static final Pattern TEST_LINE = Pattern.compile("<!-- test: (.*?) -->");
    private static final Pattern ATTRIBUTE = Pattern.compile("([a-z0-9-]+)=(\"([^\"]*)\"|\\S+)");
    private static final Pattern BLOCK = Pattern.compile("(?s)```sh\\n(.*?)```");
    /** The commands for a target with PITR on: run in a pass of their own, with the daemon streaming WAL. */
    private static final Pattern PITR_BLOCK = Pattern.compile("(?s)```sh pitr\\n(.*?)```");
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(180);
    private static final Pattern EXPECT = Pattern.compile("\\s+#\\s*exit (\\d+)\\s*$");
    private static PgCluster pg;
    private static PgCluster replicating;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        pg = PgCluster.start();
    }

    @AfterAll
    static void stop() {
        pg.close();
        if (replicating != null) {
            replicating.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> everySectionRecoversItsIncident() throws IOException {
        String doc = Files.readString(PLAYBOOK);
        List<DynamicTest> tests = new ArrayList<>();
        Matcher m = SECTION.matcher(doc);
        List<int[]> bounds = new ArrayList<>();
        List<String> titles = new ArrayList<>();
        while (m.find()) {
            bounds.add(new int[] {m.start(), 0});
            titles.add(m.group(1));
        }
        for (int i = 0; i < bounds.size(); i++) {
            int end = i + 1 < bounds.size() ? bounds.get(i + 1)[0] : doc.length();
            String body = doc.substring(bounds.get(i)[0], end);
            String title = titles.get(i);
            tests.add(DynamicTest.dynamicTest(title, () -> runSection(title, body)));
        }
        assertThat(tests).as("sections in the playbook").hasSize(8);
        return tests.stream();
    }

    /**
     * The PITR-on commands of each section that has them, against a server streaming its WAL to the daemon:
     * the undo from just before the incident's commit must bring the same data back.
     */
    @TestFactory
    Stream<DynamicTest> everySectionWithPitrOnRecoversFromJustBeforeItsIncident() throws IOException {
        String doc = Files.readString(PLAYBOOK);
        List<DynamicTest> tests = new ArrayList<>();
        Matcher m = SECTION.matcher(doc);
        List<Integer> starts = new ArrayList<>();
        List<String> titles = new ArrayList<>();
        while (m.find()) {
            starts.add(m.start());
            titles.add(m.group(1));
        }
        for (int i = 0; i < starts.size(); i++) {
            String body = doc.substring(starts.get(i), i + 1 < starts.size() ? starts.get(i + 1) : doc.length());
            String title = titles.get(i);
            if (PITR_BLOCK.matcher(body).find()) {
                tests.add(DynamicTest.dynamicTest(title + " (PITR on)", () -> runPitrSection(title, body)));
            }
        }
        assertThat(tests).as("sections with a PITR-on undo").hasSize(6);
        return tests.stream();
    }

    private void runPitrSection(String title, String body) throws Exception {
        synchronized (PlaybookIT.class) {
            if (replicating == null) {
                replicating = PgCluster.startReplicating(Map.of());
            }
        }
        Matcher t = TEST_LINE.matcher(body);
        assertThat(t.find()).as("a test line in section " + title).isTrue();
        Map<String, String> attrs = new LinkedHashMap<>();
        Matcher a = ATTRIBUTE.matcher(t.group(1));
        while (a.find()) {
            attrs.put(a.group(1), a.group(3) != null ? a.group(3) : a.group(2));
        }
        Path work = Files.createTempDirectory(dir, "pitr-section-");
        replicating.execute("postgres", "DROP DATABASE IF EXISTS app WITH (FORCE)", "CREATE DATABASE app");
        Map<String, String> env = io.backstop.http.LiveDaemon.env(replicating, "app", work.resolve("backups"));
        env.put("PATH", replicating.bin() + ":" + System.getenv("PATH"));
        env.put("BACKSTOP_PITR", "true");
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
        try (io.backstop.http.LiveDaemon d = new io.backstop.http.LiveDaemon(env)) {
            Fixtures.await("a recoverable window", WAIT, () -> Pattern.compile(
                    "(?m)^backstop_pitr_window_start_timestamp_seconds\\{target=\"app\"} [1-9]")
                    .matcher(d.get("/metrics").body()).find());
            runSection(replicating, PITR_BLOCK, title + " (PITR on)", body, attrs, work, env, env);
        }
    }

    private void runSection(String title, String body) throws Exception {
        Matcher t = TEST_LINE.matcher(body);
        assertThat(t.find()).as("a test line in section " + title).isTrue();
        Map<String, String> attrs = new LinkedHashMap<>();
        Matcher a = ATTRIBUTE.matcher(t.group(1));
        while (a.find()) {
            attrs.put(a.group(1), a.group(3) != null ? a.group(3) : a.group(2));
        }
        Path work = Files.createTempDirectory(dir, "section-");
        Map<String, String> env = Cli.env(pg, "app", work.resolve("backups"));
        env.put("PATH", pg.bin() + ":" + System.getenv("PATH"));

        pg.execute("postgres", "DROP DATABASE IF EXISTS app WITH (FORCE)", "DROP DATABASE IF EXISTS app_recovered WITH (FORCE)",
                "CREATE DATABASE app");
        io.backstop.testing.S3Server s3 = null;
        Map<String, String> seedEnv = new LinkedHashMap<>(env);
        if (attrs.containsKey("s3")) {
            // The old host copied its backups, encrypted, to a bucket; the new one has only the keys and the identity.
            s3 = io.backstop.testing.S3Server.start(work.resolve("s3"), "playbook-backups");
            env.putAll(s3.env("playbook-backups/prod"));
            Path identity = work.resolve("age-identity.txt");
            Fixtures.sh(io.backstop.testing.Tools.require("age-keygen", "age"), "-o", identity.toString());
            Process y = new ProcessBuilder("age-keygen", "-y", identity.toString()).start();
            String recipient = new String(y.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(y.waitFor()).isZero();
            seedEnv = new LinkedHashMap<>(env);
            seedEnv.put("BACKSTOP_AGE_RECIPIENTS", recipient);
            env.put("AGE_IDENTITY", identity.toString());
        }
        try {
            runSection(pg, BLOCK, title, body, attrs, work, env, seedEnv);
        } finally {
            if (s3 != null) {
                s3.close();
            }
        }
    }

    private void runSection(PgCluster pg, Pattern blocks, String title, String body, Map<String, String> attrs,
            Path work, Map<String, String> env, Map<String, String> seedEnv) throws Exception {
        pg.execute("app", "CREATE TABLE users(id serial primary key, email text)",
                "INSERT INTO users(email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 700) g",
                "CREATE TABLE orders(id int, user_id int)", "INSERT INTO orders SELECT g, g % 700 + 1 FROM generate_series(1, 300) g");
        assertThat(shell("./backstop backup", seedEnv)).as("seed backup").isZero();
        if (attrs.containsKey("before")) {
            assertThat(shell(attrs.get("before"), seedEnv)).isZero();
        }
        if (attrs.containsKey("s3")) {
            Fixtures.sh("rm", "-rf", work.resolve("backups").toString()); // the host is gone, with its disk
        }
        String on = attrs.getOrDefault("incident-on", "app");
        for (String key : List.of("incident", "incident2", "incident3", "incident4", "incident5", "incident6")) {
            if (attrs.containsKey(key)) {
                pg.execute(on.equals("postgres") || key.equals("incident") ? on : "app", attrs.get(key));
            }
        }

        Matcher block = blocks.matcher(body);
        int commands = 0;
        while (block.find()) {
            for (String line : block.group(1).split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                Matcher expect = EXPECT.matcher(line);
                int expected = expect.find() ? Integer.parseInt(expect.group(1)) : 0;
                String command = EXPECT.matcher(line).replaceAll("");
                assertThat(shell(command, env)).as("[" + title + "] " + command).isEqualTo(expected);
                commands++;
            }
        }
        assertThat(commands).as("commands in section " + title).isGreaterThanOrEqualTo(2);
        // Rows the application wrote after the incident are kept beside the old ones where the section says so.
        long users = Long.parseLong(attrs.getOrDefault("users", "700"));
        assertThat(pg.count("app", "users")).as("users back").isEqualTo(users);
        assertThat(pg.count("app", "orders")).as("orders back").isEqualTo(Long.parseLong(attrs.getOrDefault("orders", "300")));
        assertThat(pg.count("app", "users WHERE email IS NOT NULL")).isEqualTo(users);
        assertThat(pg.count("app", "users WHERE id <= 700 AND email = 'u' || id || '@example.com'"))
                .as("the old rows under their own keys").isEqualTo(700);
        if (users > 700) {
            assertThat(pg.count("app", "orders o JOIN users u ON u.id = o.user_id WHERE u.email = 'new2@example.com'"))
                    .as("the new order followed its new user to its fresh key").isEqualTo(1);
        }
    }

    /** Runs one playbook line with bash in the repository root; returns its exit code. */
    private static int shell(String command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = p.waitFor();
        System.out.println("$ " + command + "  → " + status + "\n" + out);
        return status;
    }
}
