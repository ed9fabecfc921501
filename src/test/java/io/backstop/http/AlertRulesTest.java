package io.backstop.http;

import io.backstop.testing.Tools;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shipped alert rules, checked and unit-tested by the real promtool (installed by .ci/run). */
class AlertRulesTest {
    private static final Path RULES = Path.of("config/prometheus");

    private static String promtool(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of(Tools.require("promtool", "prometheus")));
        command.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(command).directory(RULES.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("promtool is not installed (apt-get install prometheus; .ci/run does)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    @Test
    void rulesAreValid() throws Exception {
        assertThat(promtool("check", "rules", "alerts.yml")).contains("SUCCESS: 18 rules found");
    }

    @Test
    void everyAlertFiresWhenItShouldAndStaysQuietOtherwise() throws Exception {
        assertThat(promtool("test", "rules", "alerts.test.yml")).contains("SUCCESS");
    }

    @Test
    void everyAlertHasATestAndAnActionableText() throws Exception {
        String rules = java.nio.file.Files.readString(RULES.resolve("alerts.yml"));
        String tests = java.nio.file.Files.readString(RULES.resolve("alerts.test.yml"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("- alert: (\\w+)").matcher(rules);
        int alerts = 0;
        while (m.find()) {
            alerts++;
            assertThat(tests).as("a promtool test for " + m.group(1)).contains("alertname: " + m.group(1));
        }
        assertThat(alerts).isEqualTo(18);
        assertThat(rules.split("summary:", -1)).hasSize(alerts + 1);
        assertThat(rules.split("description:", -1)).hasSize(alerts + 1);
    }
}
