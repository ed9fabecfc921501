package io.backstop.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/** The command-line tools some tests run; a missing one fails with the way to get it, not a bare IOException. */
public final class Tools {
    private Tools() {
    }

    /** {@code tool} when it is on PATH; else fails naming it, its Debian package and ./test. */
    public static String require(String tool, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return tool;
            }
        }
        throw new AssertionError(tool + " is not installed, and this test runs it. Run ./test (the README's test"
                + " command: it installs what the tests need, then runs mvn verify), or install it yourself:"
                + " apt-get install --no-install-recommends " + debianPackage);
    }
}
