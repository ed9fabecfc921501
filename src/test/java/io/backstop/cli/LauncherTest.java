package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command on a machine that lacks Maven and a JDK. */
class LauncherTest {
    @TempDir
    Path dir;

    @Test
    void withoutMavenOrAJdkTheLauncherSaysInOneLineWhatInstallsThem() throws Exception {
        // A checkout without a built jar, and a PATH with the shell's basics only: no mvn, no javac, no sudo.
        Path checkout = Files.createDirectories(dir.resolve("checkout"));
        Files.copy(Path.of("backstop"), checkout.resolve("backstop"));
        Files.writeString(checkout.resolve("pom.xml"), "<project/>\n");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        for (String tool : List.of("bash", "dirname", "id")) {
            Files.createSymbolicLink(bin.resolve(tool), Path.of("/usr/bin", tool).toRealPath());
        }
        dir.toFile().setExecutable(true, false);
        checkout.toFile().setExecutable(true, false);
        bin.toFile().setExecutable(true, false);
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            // As root the launcher would install them; as any other user without sudo it must say how.
            command.addAll(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"));
        }
        command.addAll(List.of(bin.resolve("bash").toString(), checkout.resolve("backstop").toString(), "--version"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().put("PATH", bin.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(2);
        assertThat(out.strip().lines()).as(out).hasSize(1);
        assertThat(out).contains("apt-get install --no-install-recommends maven openjdk-17-jdk-headless")
                .doesNotContain("command not found");
    }
}
