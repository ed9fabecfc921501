package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What a new user meets in the first hour, without a database. */
class FirstHourTest {
    @TempDir
    Path dir;

    private Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("BACKSTOP_BACKUP_DIR", dir.resolve("backups").toString());
        env.put("BACKSTOP_CONFIG", "/dev/null");
        return env;
    }

    @ParameterizedTest(name = "{0} --help")
    @ValueSource(strings = {"daemon", "demo", "backup", "list", "check", "ack", "prune", "restore", "verify", "guard"})
    void everyCommandPrintsItsHelpAndExitsZero(String command) {
        for (String[] args : new String[][] {{command, "--help"}, {command, "-h"}, {"help", command}}) {
            Cli.Result r = Cli.run(env(), args);
            assertThat(r.status()).as(String.join(" ", args) + ": " + r.all()).isZero();
            assertThat(r.out()).contains("Usage: backstop " + command, "Exit codes:", " 10  guard", " 11  guard")
                    .doesNotContain("Unknown option", "Missing required");
        }
    }

    @Test
    void aPointInTimeWithoutAWalArchiveSaysPitrIsOffAndHowToTurnItOn() {
        for (String[] args : new String[][] {{"restore", "--at", "2026-12-06T14:52:07Z", "--into", "x", "--yes"},
                {"restore", "--at", "0/3000060", "--physical", dir.resolve("data").toString()},
                {"recover", "public.users", "--at", "2026-12-06 14:52:07"}}) {
            Cli.Result r = Cli.run(env(), args);
            assertThat(r.status()).as(String.join(" ", args) + ": " + r.all()).isEqualTo(2);
            assertThat(r.err()).contains("has no WAL archive: PITR is off", "BACKSTOP_PITR=true");
        }
        assertThat(dir.resolve("data")).doesNotExist();
    }

    @Test
    void aUsageErrorSaysWhatIsWrongAndWhatWasMeantInAFewLinesNotTheWholeHelp() {
        Cli.Result r = Cli.run(env(), "restore", "latest", "--in", "app");
        assertThat(r.status()).isEqualTo(io.backstop.ExitCode.USAGE.status());
        // --into is optional since restore --at --physical: picocli names what was meant among the options.
        assertThat(r.err()).contains("Unknown options: '--in'", "See: backstop restore --help")
                .containsPattern("Possible solutions: .*--into");
        assertThat(r.err().lines().count()).as(r.err()).isLessThanOrEqualTo(4);
        assertThat(r.out()).isEmpty();
    }

    @ParameterizedTest(name = "{0} --help wraps its description once, at whole words")
    @ValueSource(strings = {"restore", "recover"})
    void helpParagraphsAreWrappedOnce(String command) {
        Cli.Result r = Cli.run(env(), command, "--help");
        String description = r.out().substring(r.out().indexOf('\n', r.out().indexOf("Usage:")), r.out().indexOf("  -"));
        // Wrapped twice, a paragraph shows a short line in the middle of it: every line but the last fills the width.
        java.util.List<String> lines = description.lines().filter(l -> !l.isBlank() && !l.startsWith(" ")).toList();
        for (int i = 0; i < lines.size() - 1; i++) {
            assertThat(lines.get(i).length()).as("line %d of:%n%s", i, description).isGreaterThan(60);
        }
    }

    @Test
    void theShippedConfigShowsTheCompressionTheDefaultsSay() throws Exception {
        String shipped = Files.readString(Path.of("config/backstop.conf"));
        String reference = com.typesafe.config.ConfigFactory.parseResources("reference.conf")
                .getString("backstop.pg-dump.compress");
        assertThat(shipped).contains("# compress = \"" + reference + "\"");
    }

    @Test
    void theTopLevelHelpNeverCutsACommandsSummary() {
        Cli.Result r = Cli.run(env(), "--help");
        assertThat(r.status()).isZero();
        String commands = r.out().substring(r.out().indexOf("Commands:"), r.out().indexOf("Exit codes:"));
        commands.lines().skip(1).filter(l -> !l.isBlank()).forEach(line ->
                assertThat(line.strip()).as("one whole sentence per command").endsWith(".").doesNotStartWith("-"));
    }

    @Test
    void aCommandLineBuiltForOneCommandListsAndSuggestsEveryOtherWhereAsked() {
        Cli.Result top = Cli.run(env(), "--help");
        for (Class<?> sub : BackstopCommand.SUBCOMMANDS) {
            picocli.CommandLine.Command command = sub.getAnnotation(picocli.CommandLine.Command.class);
            if (!command.hidden()) {
                assertThat(top.out()).as("listed in --help").containsPattern("(?m)^  " + command.name() + "\\b");
            }
        }
        Cli.Result help = Cli.run(env(), "help", "restore");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("--physical", "Exit codes:");
        assertThat(Cli.run(env(), "restore", "--help").out()).isEqualTo(help.out());
        Cli.Result typo = Cli.run(env(), "resotre", "--into", "x");
        assertThat(typo.status()).isEqualTo(io.backstop.ExitCode.USAGE.status());
        assertThat(typo.err()).contains("restore");
        // options a command inherits, and the guard's rule that what follows its options is the command
        assertThat(Cli.run(env(), "guard", "--help").out()).contains("--config", "--verbose");
        assertThat(CommandLines.configured("guard").getSubcommands().get("guard").isStopAtPositional()).isTrue();
        assertThat(CommandLines.configured("guard").getSubcommands()).containsOnlyKeys("guard");
        assertThat(CommandLines.configured("nonsense").getSubcommands()).hasSize(BackstopCommand.SUBCOMMANDS.size());
    }

    @Test
    void globalOptionsWorkAfterTheCommandToo() throws Exception {
        Path conf = dir.resolve("other.conf");
        Files.writeString(conf, "backstop.targets = [ { name = other } ]\n");
        Cli.Result after = Cli.run(env(), "list", "--config", conf.toString(), "--verbose");
        assertThat(after.status()).as(after.all()).isZero();
        assertThat(after.out()).contains("no backups of target other");
        Cli.Result before = Cli.run(env(), "--config", conf.toString(), "list");
        assertThat(before.out()).isEqualTo(after.out());
        assertThat(Cli.run(env(), "prune", "--dry-run", "--debug", "-c", conf.toString()).status()).isZero();
    }

    @Test
    void listSaysWhichTargetsTheDirectoryHoldsWhenTheConfiguredOneHasNone() throws Exception {
        Files.createDirectories(dir.resolve("backups/demo/hourly"));
        Cli.Result r = Cli.run(env(), "list");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("no backups of target app", "this directory holds backups of: demo", "--target");
    }

    @Test
    void theLauncherBuildsWithoutColourCodesAndThePomRebuildsTheJarBeforeShading() throws Exception {
        // A first run's build output lands in people's logs; a second package must not re-shade a shaded jar.
        assertThat(Files.readString(Path.of("backstop"))).contains("-Dstyle.color=never");
        assertThat(Files.readString(Path.of("test"))).contains("-Dstyle.color=never");
        assertThat(Files.readString(Path.of("pom.xml"))).contains("<forceCreation>true</forceCreation>");
    }
}
