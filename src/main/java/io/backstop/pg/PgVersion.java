package io.backstop.pg;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A PostgreSQL version as major and minor (10+ numbering; 9.6 is major 9.6 written as 906). */
public record PgVersion(int major, int minor, String text) implements Comparable<PgVersion> {
    private static final Pattern TOOL_OUTPUT = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    /** From server_version_num, e.g. 150018 → 15.18, 90624 → 9.6.24. */
    public static PgVersion fromVersionNum(int num) {
        if (num >= 100000) {
            return new PgVersion(num / 10000, num % 10000, (num / 10000) + "." + (num % 10000));
        }
        int major = num / 10000 * 100 + num / 100 % 100;
        return new PgVersion(major, num % 100, (num / 10000) + "." + (num / 100 % 100) + "." + (num % 100));
    }

    /** From "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" or "pg_dump (PostgreSQL) 9.6.24". */
    public static PgVersion fromToolOutput(String output) {
        Matcher m = TOOL_OUTPUT.matcher(output);
        if (!m.find()) {
            throw new IllegalArgumentException("no PostgreSQL version in \"" + output.strip() + "\"");
        }
        int first = Integer.parseInt(m.group(1));
        int second = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
        if (first >= 10) {
            return new PgVersion(first, second, first + "." + second);
        }
        int third = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
        return new PgVersion(first * 100 + second, third, first + "." + second + "." + third);
    }

    /** "15" or "9.6": what people call the major version. */
    public String majorText() {
        return major >= 10 ? Integer.toString(major) : (major / 100) + "." + (major % 100);
    }

    @Override
    public int compareTo(PgVersion o) {
        return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
    }

    @Override
    public String toString() {
        return text;
    }
}
