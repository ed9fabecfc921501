package io.backstop.guard;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The guard judged by class, on realistic agent command lines written for this test (pipes,
 * {@code &&} chains, here-documents, quoting, environment prefixes, full paths, several lines),
 * none taken from the peer corpus or the issue that asked for them: per class, every destructive
 * line must be answered ask or block (block where the class says so) and every safe one allowed.
 * Prints recall and specificity per class.
 */
class GuardClassesTest {
    private static final Guard GUARD = Guard.withRules(Optional.empty());

    record Case(String kind, String expected, String command) {
    }

    static List<Case> cases() throws IOException {
        List<Case> cases = new ArrayList<>();
        try (InputStream in = GuardClassesTest.class.getResourceAsStream("/guard-classes.tsv")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] cols = line.split("\t", 3);
                cases.add(new Case(cols[0], cols[1], GuardCorpusTest.unescape(cols[2])));
            }
        }
        return cases;
    }

    @Test
    void everyClassIsCaughtWithoutAskingAboutItsSafeNeighbours() throws IOException {
        Map<String, int[]> byClass = new LinkedHashMap<>(); // destructive, caught, safe, allowed
        List<String> misses = new ArrayList<>();
        for (Case c : cases()) {
            Verdict v = GUARD.classify(c.command());
            int[] n = byClass.computeIfAbsent(c.kind(), k -> new int[4]);
            String got = v.decision().word();
            if (c.expected().equals("allow")) {
                n[2]++;
                if (v.decision() == Decision.ALLOW) {
                    n[3]++;
                } else {
                    misses.add(c.kind() + ": safe, answered " + got + " (" + v.rule() + "): " + c.command());
                }
            } else {
                n[0]++;
                boolean right = c.expected().equals("block") ? v.decision() == Decision.BLOCK : v.decision() != Decision.ALLOW;
                if (right) {
                    n[1]++;
                } else {
                    misses.add(c.kind() + ": " + c.expected() + " expected, answered " + got + " (" + v.reason() + "): "
                            + c.command());
                }
            }
        }
        System.out.println("guard by class: recall (destructive answered ask/block) and specificity (safe allowed)");
        byClass.forEach((k, n) -> System.out.printf("  %-12s recall %2d/%-2d (%5.1f%%)  specificity %2d/%-2d (%5.1f%%)%n", k,
                n[1], n[0], 100.0 * n[1] / Math.max(1, n[0]), n[3], n[2], 100.0 * n[3] / Math.max(1, n[2])));
        assertThat(byClass).hasSizeGreaterThanOrEqualTo(10);
        assertThat(misses).as("misses").isEmpty();
    }
}
