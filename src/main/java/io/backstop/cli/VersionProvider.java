package io.backstop.cli;

import picocli.CommandLine.IVersionProvider;

/** The version from the jar's manifest (set by the build). */
public final class VersionProvider implements IVersionProvider {
    public static String version() {
        String v = VersionProvider.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"backstop " + version(), "Java " + Runtime.version()};
    }
}
