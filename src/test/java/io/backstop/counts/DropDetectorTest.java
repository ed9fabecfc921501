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
                SETTINGS.checkInterval(), SETTINGS.estimateAbove(), SETTINGS.updateThreshold());
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
                SETTINGS.checkInterval(), SETTINGS.estimateAbove(), SETTINGS.updateThreshold());
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

    private static final String RENTAL = "public.rental(customer_id) references public.customer";
    private static final TargetState.Baseline WATCHING = new TargetState.Baseline(Instant.EPOCH, 1, "hourly/x.dump",
            "sys1", 42, BASE, Map.of("large objects", 40L, RENTAL, 3000L), Map.of("public.users", "16400:16400"));

    static Stream<Arguments> watchedScenarios() {
        return Stream.of(
                Arguments.of("as they were", Map.of("large objects", 40L, RENTAL, 3000L), BASE, List.of()),
                Arguments.of("more of both", Map.of("large objects", 41L, RENTAL, 3100L), BASE, List.of()),
                Arguments.of("every large object unlinked", Map.of("large objects", 0L, RENTAL, 3000L), BASE,
                        List.of(Drop.Kind.LARGE_OBJECTS)),
                Arguments.of("references nulled by a parent's delete", Map.of("large objects", 40L, RENTAL, 1000L), BASE,
                        List.of(Drop.Kind.NULLED)),
                Arguments.of("under the threshold", Map.of("large objects", 39L, RENTAL, 2900L), BASE, List.of()),
                Arguments.of("a column of a table gone is the table's drop", Map.of("large objects", 40L),
                        Map.of("public.users", 1000L, "public.empty_queue", 0L), List.of(Drop.Kind.GONE)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("watchedScenarios")
    void largeObjectsAndNulledReferences(String title, Map<String, Long> watched, Map<String, Long> rows,
            List<Drop.Kind> expected) {
        List<Drop> drops = DropDetector.compare(WATCHING, new DropDetector.Observation("sys1", 42, rows, watched,
                Map.of(), Map.of()), SETTINGS);
        assertThat(drops).extracting(Drop::kind).containsExactlyElementsOf(expected);
    }

    @org.junit.jupiter.api.Test
    void theRecoverCommandOfANulledReferenceBringsItsParentAndResetsTheColumn() {
        List<Drop> drops = DropDetector.compare(WATCHING, new DropDetector.Observation("sys1", 42, BASE,
                Map.of("large objects", 0L, RENTAL, 10L), Map.of(), Map.of()), SETTINGS);
        assertThat(drops).extracting(Drop::describe).containsExactly("large objects dropped from 40 to 0",
                "public.rental(customer_id) references public.customer lost 2,990 of its 3,000 references"
                        + " (ON DELETE SET NULL/DEFAULT: rows it referenced were deleted)");
        assertThat(Drop.recoverCommand("app", drops)).contains("backstop recover public.customer public.rental"
                + " --large-objects --changed --from pinned --target app");
    }

    static Stream<Arguments> updates() {
        return Stream.of(
                Arguments.of("no counter before: first observation", Map.of(), Map.of("public.users", 900L), List.of()),
                Arguments.of("a few updates", Map.of("public.users", 100L), Map.of("public.users", 200L), List.of()),
                Arguments.of("every row updated", Map.of("public.users", 100L), Map.of("public.users", 1100L),
                        List.of("public.users")),
                Arguments.of("half of them: the threshold", Map.of("public.users", 0L), Map.of("public.users", 500L),
                        List.of("public.users")),
                Arguments.of("a counter reset", Map.of("public.users", 5000L), Map.of("public.users", 10L), List.of()),
                Arguments.of("a table too small to tell", Map.of("public.tiny", 0L), Map.of("public.tiny", 5L),
                        List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("updates")
    void massUpdatesFromTheStatisticsCounters(String title, Map<String, Long> before, Map<String, Long> after,
            List<String> expected) {
        List<Drop> drops = DropDetector.massUpdates(before, after, Map.of("public.users", 1000L, "public.tiny", 5L),
                SETTINGS);
        assertThat(drops).extracting(Drop::table).containsExactlyElementsOf(expected);
        assertThat(drops).allSatisfy(d -> assertThat(d.kind()).isEqualTo(Drop.Kind.UPDATED));
    }

    static Stream<Arguments> resets() {
        return Stream.of(
                Arguments.of("the same table", "16400:16400", null),
                Arguments.of("dropped and created again", "16500:16500", Drop.RESET),
                Arguments.of("truncated", "16400:16444", Drop.RESET));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("resets")
    void aTableThatIsNotTheBaselinesTableAnyMoreIsResetAndItsUndoRekeysTheNewRows(String title, String file,
            String reason) {
        List<Drop> drops = DropDetector.compare(WATCHING, new DropDetector.Observation("sys1", 42,
                live(Map.of("public.users", 3L)), Map.of("large objects", 40L, RENTAL, 3000L), Map.of(),
                Map.of("public.users", file)), SETTINGS);
        assertThat(drops).singleElement().satisfies(d -> assertThat(d.reason()).isEqualTo(reason));
        assertThat(Drop.recoverCommand("app", drops).orElseThrow().contains("--rekey-new")).isEqualTo(reason != null);
    }
}
