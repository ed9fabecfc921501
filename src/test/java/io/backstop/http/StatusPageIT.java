package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.app.Components;
import io.backstop.notify.Notifier;
import io.backstop.schedule.Daemon;
import io.backstop.schedule.Reporter;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The status page in a real browser (Debian's chromium, driven by Selenium through chromium-driver):
 * what a person reads with a healthy target, during a data-loss alarm and during failing backups,
 * at a phone's width and a desk's. Screenshots land in target/status-page/.
 */
class StatusPageIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Path SHOTS = Path.of("target", "status-page");
    private static final String SECRET_PATH = "/hook/T0SECRET/B0SECRET";
    private static ChromeDriver browser;
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private Daemon daemon;
    private HttpApi http;
    private Notifier notifier;
    private HealthState state;
    private int port;

    @BeforeAll
    static void browser() throws Exception {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(Path.of("/usr/bin/chromium").toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--hide-scrollbars", "--window-size=1200,900");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(Path.of("/usr/bin/chromedriver").toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @AfterEach
    void stop() {
        if (daemon != null) {
            daemon.stop(Duration.ofSeconds(8));
        }
        if (http != null) {
            http.close();
        }
        if (notifier != null) {
            notifier.close();
        }
    }

    private void start(String db, String schedule, String hookUrl) throws Exception {
        Path conf = dir.resolve("backstop.conf");
        Files.writeString(conf, """
                backstop {
                  schedule = "%s"
                  restore-drill.every = 0
                  row-counts.check-interval = 1s
                  http { bind = "127.0.0.1", port = 0 }
                  notify.channels = [ { name = hooks, type = webhook, url = "%s" } ]
                }
                """.formatted(schedule, hookUrl));
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_CONFIG", conf.toString());
        Components main = Cli.components(env, conf);
        state = new HealthState();
        main.seed(state);
        notifier = main.notifier(state);
        Reporter reporter = Reporter.chain(state, notifier);
        daemon = main.daemon(reporter);
        http = main.http(state, reporter, daemon);
        port = http.start();
        notifier.start();
        daemon.start();
    }

    private void open(int width, int height) {
        browser.manage().window().setSize(new Dimension(width, height));
        browser.get("http://127.0.0.1:" + port + "/");
    }

    private static String text(String css) {
        return browser.findElement(By.cssSelector(css)).getText();
    }

    private static void shoot(String name) throws Exception {
        Path png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(png, SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.size(SHOTS.resolve(name + ".png"))).isGreaterThan(5_000);
    }

    /** Whether the page fits the window's width: no sideways scrolling on a phone. */
    private static boolean fitsWidth() {
        Object fits = browser.executeScript(
                "return document.documentElement.scrollWidth <= window.innerWidth;");
        return Boolean.TRUE.equals(fits);
    }

    @Test
    void aHealthyTargetSaysSoWithItsLastAndNextBackupAndRowCounts() throws Exception {
        String db = pg.createDatabase("status_ok");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 400)",
                "CREATE TABLE orders(id int PRIMARY KEY)", "INSERT INTO orders SELECT generate_series(1, 1200)");
        try (io.backstop.testing.Receiver hooks = new io.backstop.testing.Receiver()) {
            start(db, "0 0 * * * ?", hooks.url(SECRET_PATH));
            Fixtures.await("the first backup", WAIT, () -> state.runs("app", "success") >= 1
                    && !state.get("app").inProgress());
            open(1200, 900);
            assertThat(browser.getTitle()).isEqualTo("OK · Backstop");
            assertThat(text("#overall")).isEqualTo("All targets are healthy");
            assertThat(text("#target-app h2")).isEqualTo("app OK");
            assertThat(browser.findElements(By.cssSelector("#target-app .reasons"))).isEmpty();
            assertThat(browser.findElements(By.cssSelector("#target-app .alarm"))).isEmpty();
            String facts = text("#target-app dl");
            assertThat(facts).containsPattern("Last backup\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(\\d+s ago, ")
                    .containsPattern("Next backup\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:00:00 UTC \\(in \\d+")
                    .contains("Recoverable to the second\noff (pitr.enabled)")
                    .contains("Pinned backups\nnone");
            List<WebElement> rows = browser.findElements(By.cssSelector("#target-app table.rows tbody tr"));
            assertThat(rows).extracting(WebElement::getText)
                    .containsExactly("public.orders 1,200 1,200 0", "public.users 400 400 0");
            assertThat(browser.findElements(By.cssSelector("tr.drop"))).isEmpty();
            assertThat(text("#notifications")).contains("hooks (webhook)").contains("nothing sent yet");
            assertThat(browser.getPageSource()).doesNotContain("T0SECRET").doesNotContain(pg.password());
            shoot("healthy");
            open(390, 844);
            assertThat(fitsWidth()).as("readable on a phone: nothing wider than its screen").isTrue();
            shoot("healthy-phone");
        }
    }

    @Test
    void duringADataLossAlarmThePageSaysWhatDroppedAndTheExactCommandToUndoIt() throws Exception {
        String db = pg.createDatabase("status_alarm");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 400)",
                "CREATE TABLE orders(id int PRIMARY KEY)", "INSERT INTO orders SELECT generate_series(1, 1200)");
        try (io.backstop.testing.Receiver hooks = new io.backstop.testing.Receiver()) {
            start(db, "0 0 * * * ?", hooks.url(SECRET_PATH));
            Fixtures.await("the first backup", WAIT, () -> state.runs("app", "success") >= 1);
            pg.execute(db, "DELETE FROM users WHERE id > 3");
            Fixtures.await("the alarm", WAIT, () -> state.get("app").alarm());
            hooks.await("/hook", WAIT, r -> r.body().contains("data-loss"));
            Fixtures.await("the delivery recorded", WAIT, () -> state.notification("hooks").delivered() >= 1);
            open(390, 844);
            assertThat(browser.getTitle()).isEqualTo("PROBLEM · Backstop");
            assertThat(text("#overall")).isEqualTo("Needs attention: app");
            assertThat(text("#target-app h2")).isEqualTo("app PROBLEM");
            assertThat(text("#target-app .reasons")).contains("Data-loss alarm: rows disappeared");
            assertThat(text("#target-app .alarm")).contains("public.users dropped from 400 to 3 rows (-99.3%)");
            assertThat(text("#target-app pre.command")).isEqualTo("backstop recover public.users --from pinned --target app");
            WebElement drop = browser.findElement(By.cssSelector("#target-app tr.drop"));
            assertThat(drop.getText()).isEqualTo("public.users 400 3 -397 (-99.3%) DROP");
            assertThat(drop.getCssValue("background-color")).as("the dropped table stands out")
                    .isEqualTo("rgba(253, 226, 225, 1)");
            assertThat(text("#target-app dl")).containsPattern("Pinned backups\\napp/hourly/app-\\d{8}T\\d{6}Z\\.dump");
            assertThat(text("#notifications")).containsPattern("hooks \\(webhook\\)\\s+1\\s+0\\s+ok, last ");
            assertThat(fitsWidth()).as("the command wraps on a phone instead of widening the page").isTrue();
            shoot("alarm-phone");
            open(1200, 900);
            shoot("alarm");
        }
    }

    @Test
    void duringFailingBackupsThePageSaysWhyAndThatTheAlarmChannelFailsToo() throws Exception {
        String db = pg.createDatabase("status_fail");
        pg.execute(db, "CREATE TABLE users(id int PRIMARY KEY)", "INSERT INTO users SELECT generate_series(1, 40)");
        int downPort = io.backstop.testing.Receiver.unusedPort(); // nothing listens there until the test says so
        start(db, "0/2 * * * * ?", "http://127.0.0.1:" + downPort + SECRET_PATH);
        Fixtures.await("the first backup", WAIT, () -> state.runs("app", "success") >= 1);
        pg.execute("postgres", "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
        try {
            Fixtures.await("two failures in a row and a failed delivery", WAIT,
                    () -> state.get("app").consecutiveFailures() >= 2 && state.notification("hooks").failures() >= 1);
            open(1200, 900);
            assertThat(text("#overall")).isEqualTo("Needs attention: app");
            assertThat(text("#target-app .reasons")).contains("The last backup failed");
            assertThat(text("#target-app dl")).containsPattern("Last attempt\\nfailed \\(\\d+ in a row\\): .*"
                    + "not currently accepting connections");
            WebElement channel = browser.findElement(By.cssSelector("#notifications tr.drop"));
            assertThat(channel.getText()).startsWith("hooks (webhook)").contains("FAILING since")
                    .contains("127.0.0.1: ConnectException");
            assertThat(browser.getPageSource()).doesNotContain("T0SECRET");
            shoot("failing");
        } finally {
            pg.execute("postgres", "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
        }
    }
}
