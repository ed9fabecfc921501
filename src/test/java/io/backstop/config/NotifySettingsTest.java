package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code backstop.notify}: channels read over their defaults, each problem named with its key, secrets never shown. */
class NotifySettingsTest {
    @TempDir
    Path dir;

    private Settings load(String conf, Map<String, String> env) throws IOException {
        return ConfFiles.load(dir, conf, env);
    }

    private String failure(String conf) {
        return ConfFiles.failure(dir, conf);
    }

    @Test
    void offByDefault() throws IOException {
        Settings.Notify n = load("", Map.of()).notifications();
        assertThat(n.channels()).isEmpty();
        assertThat(n.heartbeat().isPresent()).isFalse();
        assertThat(n.failures()).isEqualTo(2);
        assertThat(n.repeat()).isEqualTo(Duration.ofHours(6));
        assertThat(n.baseUrl()).isEmpty();
    }

    @Test
    void everyChannelTypeWithItsSecretsFromFilesAndTheEnvironmentForTheRest() throws IOException {
        Path url = Files.writeString(dir.resolve("slack-url"), "https://hooks.slack.com/services/T1/B2/SECRET3\n");
        Path pw = Files.writeString(dir.resolve("smtp-pw"), "mail-pass\n");
        Path hb = Files.writeString(dir.resolve("hb"), "https://hc-ping.com/1234-uuid");
        Settings s = load("""
                backstop.notify {
                  channels = [
                    { name = hooks, type = webhook, url = "https://example.com/in", secret = "k", events = [data-loss] }
                    { type = slack, url-file = "%s" }
                    { name = d, type = discord, url = "https://discord.com/api/webhooks/1/x" }
                    { name = phone, type = ntfy, url = "https://ntfy.sh/t-9", token = "tk_1" }
                    { name = mail, type = email, host = smtp.example.com, security = tls, user = u,
                      password-file = "%s", from = "Backstop <b@example.com>", to = ["a@example.com", "b@example.com"] }
                  ]
                }
                """.formatted(url, pw), Map.of("BACKSTOP_NOTIFY_HEARTBEAT_URL_FILE", hb.toString(),
                "BACKSTOP_NOTIFY_REPEAT", "2h", "BACKSTOP_NOTIFY_BASE_URL", "https://backups.example.com/"));
        Settings.Notify n = s.notifications();
        assertThat(n.channels()).extracting(Settings.Channel::name).containsExactly("hooks", "slack", "d", "phone", "mail");
        assertThat(n.channel("hooks").orElseThrow().events()).containsExactly("data-loss");
        assertThat(n.channel("slack").orElseThrow().events()).containsExactlyInAnyOrderElementsOf(Settings.Notify.EVENTS);
        assertThat(n.channel("slack").orElseThrow().url().reveal()).isEqualTo("https://hooks.slack.com/services/T1/B2/SECRET3");
        assertThat(n.channel("phone").orElseThrow().secret().reveal()).isEqualTo("tk_1");
        Settings.Smtp smtp = n.channel("mail").orElseThrow().smtp();
        assertThat(smtp.port()).as("tls's port").isEqualTo(465);
        assertThat(smtp.password().reveal()).isEqualTo("mail-pass");
        assertThat(smtp.to()).containsExactly("a@example.com", "b@example.com");
        assertThat(n.heartbeat().reveal()).isEqualTo("https://hc-ping.com/1234-uuid");
        assertThat(n.repeat()).isEqualTo(Duration.ofHours(2));
        assertThat(n.baseUrl().orElseThrow().toString()).isEqualTo("https://backups.example.com");
        assertThat(n.toString()).doesNotContain("SECRET3").doesNotContain("mail-pass").doesNotContain("tk_1")
                .doesNotContain("1234-uuid");
    }

    @Test
    void everyProblemIsNamedAtOnceWithWhatIsAllowedAndNoSecretIsShown() {
        String message = failure("""
                backstop.notify {
                  failures = 0
                  heartbeat-url = "hc-ping.com/no-scheme-SECRET"
                  channels = [
                    { name = a, type = pager, url = "https://x.example.com" }
                    { name = b, type = slack, url = "hooks.slack.com/services/NOSCHEME-SECRET" }
                    { name = c, type = webhook, url = "https://e.example.com", events = [data-los] }
                    { name = d, type = email, host = "", from = nobody, to = [] }
                    { name = e, type = ntfy, url = "https://ntfy.sh/x", smtp-host = "x" }
                    { name = e, type = discord }
                  ]
                }
                """);
        assertThat(message).contains("backstop.notify.failures")
                .contains("backstop.notify.heartbeat-url: must be an http(s) URL")
                .contains("backstop.notify.channels[0].type: must be one of webhook, slack, discord, ntfy, email")
                .contains("backstop.notify.channels[1].url: must be an http(s) URL")
                .contains("backstop.notify.channels[2].events: \"data-los\" is not an event; allowed: all, data-loss")
                .contains("backstop.notify.channels[3].host").contains("backstop.notify.channels[3].from")
                .contains("backstop.notify.channels[3].to")
                .contains("backstop.notify.channels[4].smtp-host: unknown key for a ntfy channel; allowed: events, name,"
                        + " token, token-file, type, url, url-file")
                .contains("backstop.notify.channels[5].url: is empty")
                .contains("backstop.notify.channels[5].name: \"e\" names two channels");
        assertThat(message).doesNotContain("SECRET");
    }
}
