package io.backstop.counts;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.config.Settings;
import io.backstop.config.SettingsLoader;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DropDetectorTest {
    private static final Settings.RowCounts SETTINGS = new SettingsLoader(Map.of()).load(Optional.empty()).rowCounts();
    private static final Map<String, Long> BASE = Map.of("public.users", 1000L, "public.orders", 2000L,
            "public.empty_queue", 0L);
    private static final TargetState.Baseline BASELINE =
            new TargetState.Baseline(Instant.EPOCH, 1, "hourly/x.dump", "sys1", 42, BASE);

    static Stream<Arguments> scenarios() {
        return Stream.of(
                Arguments.of("nothing changed — nothing raised", live(Map.of()), "sys1", 42L, List.of()),
                Arguments.of("growth — nothing raised", live(Map.of("public.users", 5000L)), "sys1", 42L, List.of()),
                Arguments.of("3% delete — under the 5% threshold", live(Map.of("public.users", 970L)), "sys1", 42L, List.of()),
                Arguments.of("exactly 5% — not more than the threshold", live(Map.of("public.users", 950L)), "sys1", 42L, List.of()),
                Arguments.of("6% delete — DROPPED", live(Map.of("public.users", 940L)), "sys1", 42L, List.of(Drop.Kind.DROPPED)),
                Arguments.of("DELETE without WHERE — EMPTIED", live(Map.of("public.users", 0L)), "sys1", 42L, List.of(Drop.Kind.EMPTIED)),
                Arguments.of("DROP TABLE — GONE", without("public.orders"), "sys1", 42L, List.of(Drop.Kind.GONE)),
                Arguments.of("an empty table that stays empty — nothing", live(Map.of("public.empty_queue", 0L)), "sys1", 42L, List.of()),
                Arguments.of("every table emptied — RECREATED first", live(Map.of("public.users", 0L, "public.orders", 0L)),
                        "sys1", 42L, List.of(Drop.Kind.RECREATED, Drop.Kind.EMPTIED, Drop.Kind.EMPTIED)),
                Arguments.of("new database OID — RECREATED", live(Map.of()), "sys1", 43L, List.of(Drop.Kind.RECREATED)),
                Arguments.of("new cluster — RECREATED", live(Map.of()), "sys2", 42L, List.of(Drop.Kind.RECREATED)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void scenario(String title, Map<String, Long> live, String systemId, long oid, List<Drop.Kind> expected) {
        List<Drop> drops = DropDetector.compare(BASELINE, new DropDetector.Observation(systemId, oid, live), SETTINGS);
        assertThat(drops).extracting(Drop::kind).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest(name = "per-table threshold {0}")
    @MethodSource("thresholds")
    void perTableThresholdOverridesTheGlobalOne(double threshold, long after, boolean raised) {
        Settings.RowCounts settings = new Settings.RowCounts(List.of(), List.of(), 0.05, Map.of("public.users", threshold),
                SETTINGS.checkInterval(), SETTINGS.estimateAbove());
        List<Drop> drops = DropDetector.compare(BASELINE,
                new DropDetector.Observation("sys1", 42, live(Map.of("public.users", after))), settings);
        assertThat(drops.isEmpty()).isEqualTo(!raised);
    }

    static Stream<Arguments> thresholds() {
        return Stream.of(Arguments.of(0.5, 600L, false), Arguments.of(0.5, 400L, true), Arguments.of(0.0, 999L, true));
    }

    @ParameterizedTest(name = "excluded {0}")
    @MethodSource("exclusions")
    void excludedTablesNeverRaise(String pattern) {
        Settings.RowCounts settings = new Settings.RowCounts(List.of(), List.of(pattern), 0.05, Map.of(),
                SETTINGS.checkInterval(), SETTINGS.estimateAbove());
        List<Drop> drops = DropDetector.compare(BASELINE, new DropDetector.Observation("sys1", 42,
                without("public.orders")), settings);
        assertThat(drops).isEmpty();
    }

    static Stream<String> exclusions() {
        return Stream.of("public.orders", "public.ord*", "*.orders", "public.order?");
    }

    @ParameterizedTest(name = "no baseline yet")
    @MethodSource("scenarios")
    void withoutABaselineNothingIsRaised(String title, Map<String, Long> live, String systemId, long oid, List<Drop.Kind> ignored) {
        assertThat(DropDetector.compare(null, new DropDetector.Observation(systemId, oid, live), SETTINGS)).isEmpty();
    }

    private static Map<String, Long> live(Map<String, Long> changes) {
        Map<String, Long> m = new HashMap<>(BASE);
        m.putAll(changes);
        return m;
    }

    private static Map<String, Long> without(String table) {
        Map<String, Long> m = new HashMap<>(BASE);
        m.remove(table);
        return m;
    }
}
