package io.backstop.guard;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The peer corpus in ../shared/guard-corpus (read in place, never copied): command lines from
 * other projects' guard test suites and from incident reports. Thresholds: at least 97% of
 * destructive lines answered ask or block, at least 99% of safe ones allow. Labels marked
 * disputed in the corpus are left out; the out-of-scope file marks the boundary and is reported,
 * not scored.
 */
class GuardCorpusTest {
    private static final Path CORPUS = Path.of("..", "shared", "guard-corpus");
    private static final Guard GUARD = Guard.withRules(Optional.empty());

    record Case(boolean destructive, String command, String source) {
    }

    /** The corpus lives beside this repository's own checkout only: a user's clone reports these as skipped. */
    @org.junit.jupiter.api.BeforeAll
    static void corpusBeside() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(CORPUS), () -> CORPUS.toAbsolutePath().normalize()
                + " is absent (a clone outside this project's workspace): the peer corpus is not scored");
    }

    static List<Case> read(String file) throws IOException {
        Path path = CORPUS.resolve(file);
        assertThat(path).as("a file of the peer corpus (../shared/guard-corpus)").exists();
        List<Case> cases = new ArrayList<>();
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8).stream().skip(1).toList()) {
            if (line.isBlank()) {
                continue;
            }
            String[] cols = line.split("\t", 3);
            String source = cols.length > 2 ? cols[2] : "";
            if (source.contains("disputed")) {
                continue;
            }
            cases.add(new Case(cols[0].equals("destructive"), unescape(cols[1]), source));
        }
        return cases;
    }

    static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                out.append(switch (n) {
                    case 't' -> '\t';
                    case 'n' -> '\n';
                    case '\\' -> '\\';
                    default -> "\\" + n;
                });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    @Test
    void thePeerCorpusIsJudgedAsItsLabelsSay() throws IOException {
        List<Case> cases = new ArrayList<>(read("peer-cases.tsv"));
        cases.addAll(read("peer-cases-other-engines.tsv"));
        int destructive = 0;
        int caught = 0;
        int safe = 0;
        int allowed = 0;
        List<String> misses = new ArrayList<>();
        for (Case c : cases) {
            Verdict v = GUARD.classify(c.command());
            if (c.destructive()) {
                destructive++;
                if (v.decision() != Decision.ALLOW) {
                    caught++;
                } else {
                    misses.add("destructive, allowed: " + c.command());
                }
            } else {
                safe++;
                if (v.decision() == Decision.ALLOW) {
                    allowed++;
                } else {
                    misses.add("safe, " + v.decision().word() + " (" + v.rule() + "): " + c.command());
                }
            }
        }
        double caughtShare = 100.0 * caught / destructive;
        double allowedShare = 100.0 * allowed / safe;
        System.out.printf("guard corpus: %d of %d destructive answered ask/block (%.1f%%), %d of %d safe allowed (%.1f%%)%n",
                caught, destructive, caughtShare, allowed, safe, allowedShare);
        misses.forEach(m -> System.out.println("  " + m));
        assertThat(caughtShare).as("destructive answered ask/block; misses:%n%s", String.join("\n", misses))
                .isGreaterThanOrEqualTo(97.0);
        assertThat(allowedShare).as("safe answered allow; misses:%n%s", String.join("\n", misses))
                .isGreaterThanOrEqualTo(99.0);
    }

    @Test
    void theOutOfScopeBoundaryIsReported() throws IOException {
        List<Case> cases = read("peer-cases-out-of-scope.tsv");
        long asked = cases.stream().filter(c -> GUARD.classify(c.command()).decision() != Decision.ALLOW).count();
        System.out.printf("out of scope (not scored): %d of %d answered ask/block%n", asked, cases.size());
        assertThat(cases).isNotEmpty();
    }
}
