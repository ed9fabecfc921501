package io.backstop.notify;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.config.Secret;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** How events are put for each receiver, and the heartbeat's failure URL. */
class FormatsTest {
    private static Event event(Event.Kind kind, Event.State state) {
        Instant at = Instant.parse("2026-12-07T14:52:07Z");
        return Event.of(kind, state, "app", at, at, "app: DATA LOSS: public.users <b>", List.of("a & b", "c > d"),
                "backstop recover public.users --from pinned --target app", Map.of(),
                Optional.of(URI.create("https://b.example.com/#target-app")));
    }

    @Test
    void theHeartbeatFailureUrlFollowsEachServicesConvention() {
        assertThat(Heartbeat.target(URI.create("https://hc-ping.com/abc-123"), false))
                .hasToString("https://hc-ping.com/abc-123/fail");
        assertThat(Heartbeat.target(URI.create("https://hc-ping.com/abc-123/"), false))
                .hasToString("https://hc-ping.com/abc-123/fail");
        assertThat(Heartbeat.target(URI.create("https://uptime.betterstack.com/api/v1/heartbeat/tok?x=1"), false))
                .hasToString("https://uptime.betterstack.com/api/v1/heartbeat/tok/fail?x=1");
        assertThat(Heartbeat.target(URI.create("https://kuma.example.com/api/push/K3y?status=up&msg=OK"), false))
                .as("Uptime Kuma's push URL says down in its query").hasToString(
                        "https://kuma.example.com/api/push/K3y?status=down&msg=OK");
        assertThat(Heartbeat.target(URI.create("https://hc-ping.com/abc-123"), true)).hasToString("https://hc-ping.com/abc-123");
    }

    @Test
    void slackTextIsEscapedAndTheCommandIsACodeBlock() {
        Map<String, Object> body = HttpChannel.slack(event(Event.Kind.DATA_LOSS, Event.State.PROBLEM));
        assertThat(body.get("text")).isEqualTo("app: DATA LOSS: public.users &lt;b&gt;");
        assertThat(body.get("blocks").toString()).contains("a &amp; b\nc &gt; d")
                .contains("```backstop recover public.users --from pinned --target app```")
                .contains("<https://b.example.com/#target-app|Status page>");
    }

    @Test
    void discordColoursByUrgencyAndNeverMentionsAnyone() {
        Map<String, Object> problem = HttpChannel.discord(event(Event.Kind.DATA_LOSS, Event.State.PROBLEM));
        Map<String, Object> stale = HttpChannel.discord(event(Event.Kind.BACKUP_STALE, Event.State.PROBLEM));
        Map<String, Object> resolved = HttpChannel.discord(event(Event.Kind.DATA_LOSS, Event.State.RESOLVED));
        assertThat(embed(problem).get("color")).isEqualTo(0xc62828);
        assertThat(embed(stale).get("color")).isEqualTo(0xef6c00);
        assertThat(embed(resolved).get("color")).isEqualTo(0x2e7d32);
        assertThat(problem.get("allowed_mentions")).isEqualTo(Map.of("parse", List.of()));
        assertThat(embed(problem).get("timestamp")).isEqualTo("2026-12-07T14:52:07Z");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> embed(Map<String, Object> body) {
        return ((List<Map<String, Object>>) body.get("embeds")).get(0);
    }

    @Test
    void ntfyPriorityAndHeadersStayValid() {
        assertThat(HttpChannel.ntfyPriority(event(Event.Kind.DATA_LOSS, Event.State.PROBLEM))).isEqualTo(5);
        assertThat(HttpChannel.ntfyPriority(event(Event.Kind.BACKUP_FAILING, Event.State.REPEAT))).isEqualTo(4);
        assertThat(HttpChannel.ntfyPriority(event(Event.Kind.DATA_LOSS, Event.State.RESOLVED))).isEqualTo(3);
        assertThat(HttpChannel.header("app: plain")).isEqualTo("app: plain");
        assertThat(HttpChannel.header("app: \"Bestellungen\" geleert ä\nx"))
                .isEqualTo("=?UTF-8?B?YXBwOiAiQmVzdGVsbHVuZ2VuIiBnZWxlZXJ0IMOkIHg=?=");
    }

    @Test
    void errorsNeverCarryTheSecretUrlOrAnyPartOfIt() {
        Secret url = Secret.of("https://hooks.slack.com/services/T1/B2/XYZ?token=abc");
        assertThat(HttpChannel.redact("POST https://hooks.slack.com/services/T1/B2/XYZ?token=abc failed; path"
                + " /services/T1/B2/XYZ; query token=abc", url)).isEqualTo("POST **** failed; path ****; query ****");
        assertThat(HttpChannel.hmac(Secret.of("key"), "The quick brown fox jumps over the lazy dog".getBytes()))
                .as("RFC 4231-style known answer").isEqualTo(
                        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    }
}
