package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What recover decides before it touches a database: the order of the tables, and the words of its question. */
class RecoverPlanTest {
    private static TablePlan live(String quoted) {
        return new TablePlan(quoted, true, 10, List.of("id"), true, List.of());
    }

    private static TablePlan gone(String quoted) {
        return new TablePlan(quoted, false, 10, List.of(), false, List.of());
    }

    private static List<String> names(List<TablePlan> plans) {
        return plans.stream().map(p -> p.quoted).toList();
    }

    @Test
    void parentsComeBeforeTheirChildrenWhateverOrderTheyWereNamedIn() {
        List<TablePlan> named = List.of(live("public.order_lines"), live("public.orders"), live("public.customers"));
        Map<String, List<String>> parents = Map.of(
                "public.order_lines", List.of("public.orders"),
                "public.orders", List.of("public.customers"),
                "public.customers", List.of());
        assertThat(names(TablePlan.ordered(named, parents)))
                .containsExactly("public.customers", "public.orders", "public.order_lines");
    }

    @Test
    void aParentThatIsNotBeingRecoveredImposesNoOrder() {
        List<TablePlan> named = List.of(live("public.b"), live("public.a"));
        Map<String, List<String>> parents = Map.of("public.b", List.of("public.elsewhere"), "public.a", List.of());
        assertThat(names(TablePlan.ordered(named, parents))).containsExactly("public.b", "public.a");
    }

    @Test
    void aCycleOfForeignKeysStillGivesEveryTableOnce() {
        List<TablePlan> named = List.of(live("public.a"), live("public.b"));
        Map<String, List<String>> parents = Map.of("public.a", List.of("public.b"), "public.b", List.of("public.a"));
        assertThat(names(TablePlan.ordered(named, parents))).containsExactlyInAnyOrder("public.a", "public.b");
    }

    @Test
    void tablesToRecreateComeFirst() {
        List<TablePlan> named = List.of(live("public.child"), gone("public.parent"));
        assertThat(names(TablePlan.ordered(named, Map.of()))).containsExactly("public.parent", "public.child");
    }

    /** A comparison with no collision, before any apply. */
    private static Recover.TableReport report(String table, boolean live, boolean key, long backup, long liveRows,
            long missing, long changed) {
        return new Recover.TableReport(table, live, key, backup, liveRows, missing, changed, 0, List.of(), List.of(), 0, 0,
                false, java.util.Optional.empty(), 0, List.of(), List.of());
    }

    @Test
    void theQuestionNamesEveryChangeAndSaysNewRowsAreKept() {
        List<Recover.TableReport> reports = List.of(
                report("public.users", true, true, 100, 60, 40, 3), report("public.audit", false, false, 7, 0, 0, 0));
        assertThat(Recover.describe(reports, true, false, Recover.OnCollision.REFUSE)).isEqualTo("INSERT 40 missing rows into public.users,"
                + " RECREATE public.audit with 7 rows (rows written since the backup are kept)");
        assertThat(Recover.describe(reports.subList(0, 1), true, true, Recover.OnCollision.REFUSE))
                .isEqualTo("INSERT 40 missing rows into public.users RESET 3 changed rows"
                        + " (rows written since the backup are kept)");
    }

    @Test
    void theQuestionSaysWhatACollisionChoiceDoesToTheRowsWrittenSince() {
        Recover.TableReport reset = new Recover.TableReport("public.users", true, true, 200, 3, 197, 0, 0, List.of(),
                List.of(), 0, 0, false, java.util.Optional.of("public.users was dropped and created again"), 3,
                List.of("1", "2", "3"), List.of());
        assertThat(Recover.describe(List.of(reset), true, false, Recover.OnCollision.REKEY_NEW))
                .isEqualTo("MOVE 3 rows written since to fresh keys in public.users, INSERT 200 missing rows into"
                        + " public.users (rows written since the backup are kept)");
        assertThat(Recover.describe(List.of(reset), true, false, Recover.OnCollision.KEEP_OLD))
                .isEqualTo("OVERWRITE 3 rows written since in public.users, INSERT 197 missing rows into"
                        + " public.users (rows written since the backup are kept, except those --keep-old overwrites)");
        assertThat(Recover.describe(List.of(reset), true, false, Recover.OnCollision.KEEP_NEW))
                .isEqualTo("INSERT 197 missing rows into public.users (rows written since the backup are kept)");
    }
}
