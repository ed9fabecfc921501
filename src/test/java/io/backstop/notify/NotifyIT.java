package io.backstop.notify;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.GreenMailUtil;
import com.icegreen.greenmail.util.ServerSetup;
import io.backstop.app.Components;
import io.backstop.config.Secret;
import io.backstop.http.HealthState;
import io.backstop.schedule.Daemon;
import io.backstop.schedule.Reporter;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import io.backstop.testing.Receiver;
import io.backstop.testing.TestClock;
import jakarta.mail.internet.MimeMessage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Notifications reach real receivers on loopback: a real SMTP server (GreenMail), and an HTTP
 * receiver for the webhook (its signature checked), Slack, Discord, ntfy and the heartbeat. The
 * daemon runs against a real server; the notifier's clock is driven by the test, never slept for.
 */
class NotifyIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String HMAC_KEY = "whsec-test-4b1d";
    private static final String SMTP_PASSWORD = "smtp-pa55-word";
    private final PgCluster pg = PgCluster.shared();
    private final ObjectMapper json = new ObjectMapper();

    @TempDir
    Path dir;

    private GreenMail smtp;
    private Receiver receiver;
    private Daemon daemon;
    private Notifier notifier;
    private Components main;

    @BeforeEach
    void receivers() {
        smtp = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP).dynamicPort());
        smtp.start();
        smtp.setUser("backstop@example.com", "backstop", SMTP_PASSWORD);
        receiver = new Receiver();
    }

    @AfterEach
    void stop() {
        if (daemon != null) {
            daemon.stop(Duration.ofSeconds(8));
        }
        if (notifier != null) {
            notifier.close();
        }
        receiver.close();
        smtp.stop();
    }

    /** Starts the daemon on {@code db} with every channel; returns its state. */
    private HealthState start(String db, String schedule, String extra, TestClock clock, String webhookUrl)
            throws Exception {
        Path secrets = Files.createDirectories(dir.resolve("secrets"));
        Path slackUrl = Files.writeString(secrets.resolve("slack"), receiver.url("/slack/T000/B000/XXXX") + "\n");
        Path password = Files.writeString(secrets.resolve("smtp"), SMTP_PASSWORD);
        Path conf = dir.resolve("backstop.conf");
        Files.writeString(conf, """
                backstop {
                  schedule = "%s"
                  restore-drill.every = 0
                  row-counts.check-interval = 1s
                  notify {
                    base-url = "https://backups.example.com"
                    repeat = 6h
                    heartbeat-url = "%s"
                    channels = [
                      { name = mail, type = email, host = "127.0.0.1", port = %d, security = none,
                        user = backstop, password-file = "%s", from = "Backstop <backstop@example.com>",
                        to = ["oncall@example.com"] }
                      { name = hooks, type = webhook, url = "%s", secret = "%s" }
                      { name = slack, type = slack, url-file = "%s" }
                      { name = discord, type = discord, url = "%s" }
                      { name = phone, type = ntfy, url = "%s", token = "tk_test", events = ["data-loss"] }
                    ]
                  }
                  %s
                }
                """.formatted(schedule, receiver.url("/hb/5f0c-uuid"), smtp.getSmtp().getPort(), password, webhookUrl,
                HMAC_KEY, slackUrl, receiver.url("/discord/123/abc"), receiver.url("/ntfy/backups-8f3a"), extra));
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_CONFIG", conf.toString());
        main = Cli.components(env, conf);
        HealthState state = new HealthState();
        main.seed(state);
        notifier = Notifier.of(main.settings(), state, clock);
        daemon = main.daemon(Reporter.chain(state, notifier));
        notifier.start();
        daemon.start();
        return state;
    }

    @Test
    void theAlarmReachesEveryChannelWithTheRecoverCommandAndTheHeartbeatPings() throws Exception {
        String db = pg.createDatabase("notify_alarm");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 500)");
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
                org.slf4j.Logger.ROOT_LOGGER_NAME);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs =
                new ch.qos.logback.core.read.ListAppender<>();
        logs.start();
        root.addAppender(logs);
        HealthState state = start(db, "0 0 0 1 1 ?", "", new TestClock(), receiver.url("/hook/in"));
        Receiver.Request ping = receiver.await("/hb", WAIT, r -> true);
        assertThat(ping.method()).isEqualTo("GET");
        assertThat(ping.path()).as("the heartbeat after the start-up backup").isEqualTo("/hb/5f0c-uuid");

        pg.execute(db, "DELETE FROM users");
        String command = "backstop recover public.users --from pinned --target app";

        assertThat(smtp.waitForIncomingEmail(WAIT.toMillis(), 1)).as("the alarm email").isTrue();
        MimeMessage mail = smtp.getReceivedMessages()[0];
        assertThat(mail.getSubject()).startsWith("[Backstop] app: DATA LOSS: public.users");
        assertThat(mail.getAllRecipients()[0].toString()).isEqualTo("oncall@example.com");
        String text = GreenMailUtil.getBody(mail).replace("=\r\n", "").replace("\r\n", "\n");
        assertThat(text).contains("public.users is empty (had 500 rows)").contains("Run: " + command)
                .contains("Pinned (rotation never deletes them): ")
                .contains("Status page: https://backups.example.com/#target-app");

        Receiver.Request hook = receiver.await("/hook", WAIT, r -> true);
        assertThat(hook.header("X-Backstop-Signature")).as("HMAC-SHA256 of the exact body with the shared secret")
                .isEqualTo("sha256=" + HttpChannel.hmac(Secret.of(HMAC_KEY), hook.body().getBytes(StandardCharsets.UTF_8)));
        assertThat(hook.header("Content-Type")).isEqualTo("application/json");
        JsonNode body = json.readTree(hook.body());
        assertThat(body.path("version").asInt()).isEqualTo(1);
        assertThat(body.path("event").asText()).isEqualTo("data-loss");
        assertThat(body.path("state").asText()).isEqualTo("problem");
        assertThat(body.path("target").asText()).isEqualTo("app");
        assertThat(body.path("command").asText()).isEqualTo(command);
        assertThat(body.path("status_url").asText()).isEqualTo("https://backups.example.com/#target-app");
        assertThat(body.path("details").path("drops").get(0).path("table").asText()).isEqualTo("public.users");
        assertThat(body.path("details").path("pinned")).isNotEmpty();
        assertThat(hook.header("X-Backstop-Event")).isEqualTo("data-loss");
        assertThat(hook.header("X-Backstop-Delivery")).isEqualTo(body.path("id").asText());

        JsonNode slack = json.readTree(receiver.await("/slack", WAIT, r -> true).body());
        assertThat(slack.path("text").asText()).startsWith("app: DATA LOSS: public.users");
        assertThat(slack.path("blocks").get(0).path("type").asText()).isEqualTo("header");
        assertThat(slack.path("blocks").toString()).contains("```" + command + "```")
                .contains("<https://backups.example.com/#target-app|Status page>");

        JsonNode discord = json.readTree(receiver.await("/discord", WAIT, r -> true).body());
        assertThat(discord.path("content").asText()).startsWith("app: DATA LOSS");
        JsonNode embed = discord.path("embeds").get(0);
        assertThat(embed.path("description").asText()).contains(command);
        assertThat(embed.path("color").asInt()).isEqualTo(0xc62828);
        assertThat(embed.path("url").asText()).isEqualTo("https://backups.example.com/#target-app");
        assertThat(discord.path("allowed_mentions").path("parse")).isEmpty();

        Receiver.Request ntfy = receiver.await("/ntfy", WAIT, r -> true);
        assertThat(ntfy.path()).isEqualTo("/ntfy/backups-8f3a");
        assertThat(ntfy.header("Title")).startsWith("app: DATA LOSS");
        assertThat(ntfy.header("Priority")).isEqualTo("5");
        assertThat(ntfy.header("Authorization")).isEqualTo("Bearer tk_test");
        assertThat(ntfy.header("Click")).isEqualTo("https://backups.example.com/#target-app");
        assertThat(ntfy.body()).contains("Run: " + command);

        // Each channel got the alarm once: a raised alarm is one message until it repeats or ends.
        assertThat(receiver.taken("/hook")).hasSize(1);
        assertThat(smtp.getReceivedMessages()).hasSize(1);

        root.detachAppender(logs);
        String scrape = new io.backstop.http.Metrics(main.settings(), state, "test").scrape();
        assertThat(scrape).contains("backstop_notify_sent_total{channel=\"hooks\"} 1")
                .contains("backstop_notify_failures_total{channel=\"mail\"} 0")
                .contains("backstop_notify_sent_total{channel=\"heartbeat\"}");
        String logged = String.join("\n", logs.list.stream().map(e -> e.getFormattedMessage()).toList());
        assertThat(logged).contains("notify: 5 channels: mail (email, 127.0.0.1:");
        for (String secret : new String[] {HMAC_KEY, SMTP_PASSWORD, "5f0c-uuid", "B000/XXXX", "tk_test", "backups-8f3a",
                "/discord/123/abc"}) {
            assertThat(logged).as("the log").doesNotContain(secret);
            assertThat(scrape).as("the metrics").doesNotContain(secret);
        }
    }

    @Test
    void failingBackupsAreAnnouncedAfterTwoInARowPingFailAndResolveWhenBackupsSucceedAgain() throws Exception {
        String db = pg.createDatabase("notify_fail");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 50)");
        HealthState state = start(db, "0/2 * * * * ?", "", new TestClock(), receiver.url("/hook/in"));
        receiver.await("/hb", WAIT, r -> r.path().equals("/hb/5f0c-uuid"));
        // No login works any more: every scheduled backup fails from now on.
        pg.execute("postgres", "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
        try {
            Receiver.Request fail = receiver.await("/hb", WAIT, r -> r.path().equals("/hb/5f0c-uuid/fail"));
            assertThat(fail.method()).isEqualTo("GET");
            JsonNode failing = json.readTree(receiver.await("/hook", WAIT,
                    r -> r.body().contains("\"backup-failing\"")).body());
            assertThat(state.get("app").consecutiveFailures()).as("announced after notify.failures (2) in a row")
                    .isGreaterThanOrEqualTo(2);
            assertThat(failing.path("title").asText()).startsWith("app: backups failing (2 in a row)");
            assertThat(failing.path("details").path("error").asText()).isNotBlank();
            assertThat(failing.path("command").asText()).isEqualTo("backstop doctor --target app");
        } finally {
            pg.execute("postgres", "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
        }
        JsonNode resolved = json.readTree(receiver.await("/hook", WAIT, r -> r.body().contains("\"resolved\"")).body());
        assertThat(resolved.path("event").asText()).isEqualTo("backup-failing");
        assertThat(resolved.path("title").asText()).isEqualTo("app: resolved: backups succeed again");
        int pingsAfter = receiver.taken("/hb").size();
        Fixtures.await("an ok ping after the failures", WAIT, () -> receiver.taken("/hb").stream()
                .skip(pingsAfter - 1).anyMatch(r -> r.path().equals("/hb/5f0c-uuid")));
        assertThat(receiver.taken("/ntfy")).as("ntfy takes data-loss only").isEmpty();
    }

    @Test
    void aDownSlowOrFailingReceiverDelaysNoBackupAndGetsTheMessageOnceItRecovers() throws Exception {
        String db = pg.createDatabase("notify_down");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 200)");
        int downPort = io.backstop.testing.Receiver.unusedPort(); // nothing listens there until the test says so
        receiver.failFirst("/slack", 3);
        CountDownLatch slowDiscord = receiver.hold("/discord");
        HealthState state = start(db, "0/2 * * * * ?", "", new TestClock(),
                "http://127.0.0.1:" + downPort + "/hook/in");
        Fixtures.await("the first backup", WAIT, () -> state.runs("app", "success") >= 1);
        pg.execute(db, "DELETE FROM users");
        Fixtures.await("the alarm", WAIT, () -> state.get("app").alarm());
        long before = state.runs("app", "success");
        Fixtures.await("failed webhook deliveries", WAIT, () -> state.notification("hooks").failures() >= 2);
        Fixtures.await("three more backups while no receiver answers", WAIT,
                () -> state.runs("app", "success") >= before + 3);
        assertThat(receiver.taken("/discord")).as("discord still holds the first request").isEmpty();
        assertThat(state.notification("hooks").failingSince()).isNotNull();
        assertThat(state.notification("hooks").lastError()).contains("127.0.0.1").doesNotContain("/hook/in");

        try (Receiver late = new Receiver(downPort)) {
            JsonNode body = json.readTree(late.await("/hook", WAIT, r -> true).body());
            assertThat(body.path("event").asText()).isEqualTo("data-loss");
            Fixtures.await("the webhook channel delivering again", WAIT,
                    () -> state.notification("hooks").failingSince() == null);
        }
        assertThat(json.readTree(receiver.await("/slack", WAIT, r -> true).body()).path("text").asText())
                .startsWith("app: DATA LOSS");
        assertThat(state.notification("slack").failures()).as("three 500s, each counted").isEqualTo(3);
        slowDiscord.countDown();
        assertThat(json.readTree(receiver.await("/discord", WAIT, r -> true).body()).path("content").asText())
                .startsWith("app: DATA LOSS");
    }

    @Test
    void notifyTestSendsOnEveryChannelAndSaysWhichFailedWithoutItsUrl() throws Exception {
        int downPort = io.backstop.testing.Receiver.unusedPort(); // nothing listens there until the test says so
        Path conf = dir.resolve("notify.conf");
        Files.writeString(conf, """
                backstop.notify.channels = [
                  { name = mail, type = email, host = "127.0.0.1", port = %d, security = none,
                    from = "backstop@example.com", to = ["oncall@example.com"] }
                  { name = hooks, type = webhook, url = "%s", secret = "%s" }
                  { name = gone, type = slack, url = "http://127.0.0.1:%d/services/GONE-SECRET" }
                ]
                """.formatted(smtp.getSmtp().getPort(), receiver.url("/hook/in"), HMAC_KEY, downPort));
        Map<String, String> env = Map.of("BACKSTOP_CONFIG", conf.toString(), "PATH", System.getenv("PATH"));

        Cli.Result all = Cli.run(env, "notify", "--test");
        assertThat(all.status()).as(all.all()).isEqualTo(14);
        assertThat(all.out()).contains("sent    mail (email, 127.0.0.1:").contains("sent    hooks (webhook, 127.0.0.1, signed;")
                .contains("FAILED  gone (slack, 127.0.0.1; events: all): 127.0.0.1: ConnectException")
                .contains("2 of 3 channels delivered the test message");
        assertThat(all.all()).doesNotContain("GONE-SECRET").doesNotContain(HMAC_KEY);
        assertThat(smtp.waitForIncomingEmail(WAIT.toMillis(), 1)).isTrue();
        assertThat(smtp.getReceivedMessages()[0].getSubject()).isEqualTo("[Backstop] test message: channel mail reaches you");
        Receiver.Request hook = receiver.await("/hook", WAIT, r -> true);
        assertThat(json.readTree(hook.body()).path("event").asText()).isEqualTo("test");

        Cli.Result one = Cli.run(env, "notify", "--test", "--channel", "hooks");
        assertThat(one.status()).as(one.all()).isZero();
        assertThat(one.out()).contains("1 of 1 channels delivered");
        assertThat(receiver.taken("/hook")).hasSize(2);

        Cli.Result unknown = Cli.run(env, "notify", "--test", "--channel", "pager");
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.err()).contains("--channel pager: no such channel; configured: mail, hooks, gone");
    }

    @Test
    void aLastingProblemRepeatsAtTheConfiguredIntervalAndItsEndIsAnnounced() throws Exception {
        String db = pg.createDatabase("notify_repeat");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 300)");
        TestClock clock = new TestClock();
        HealthState state = start(db, "0 0 0 1 1 ?", "stale-after = 30d", clock, receiver.url("/hook/in"));
        Fixtures.await("the first backup", WAIT, () -> state.runs("app", "success") >= 1);
        pg.execute(db, "DELETE FROM users WHERE id > 10");
        receiver.await("/hook", WAIT, r -> r.body().contains("\"problem\""));

        clock.advance(Duration.ofHours(6).minusMinutes(1));
        notifier.tick();
        assertThat(receiver.taken("/hook")).as("no repeat before notify.repeat (6h)").hasSize(1);
        clock.advance(Duration.ofMinutes(1));
        notifier.tick();
        JsonNode repeat = json.readTree(receiver.await("/hook", WAIT, r -> r.body().contains("\"repeat\"")).body());
        assertThat(repeat.path("event").asText()).isEqualTo("data-loss");
        assertThat(repeat.path("title").asText()).contains("(still, since 6h 00m)");
        clock.advance(Duration.ofHours(1));
        notifier.tick();
        assertThat(receiver.taken("/hook")).as("the next repeat is 6h after this one").hasSize(2);

        pg.execute(db, "INSERT INTO users SELECT generate_series(11, 300)");
        JsonNode resolved = json.readTree(receiver.await("/hook", WAIT, r -> r.body().contains("\"resolved\"")).body());
        assertThat(resolved.path("title").asText()).isEqualTo("app: resolved: data-loss alarm cleared: the row counts"
                + " came back");
        assertThat(resolved.path("text").asText()).contains("Resolved after 7h");
        assertThat(smtp.waitForIncomingEmail(WAIT.toMillis(), 3)).as("problem, repeat and resolved by email too").isTrue();
    }
}
