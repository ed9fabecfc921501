package io.backstop.pg;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PostgreSQL version. {@code major} is on one scale for both numbering schemes, the one
 * server_version_num uses divided by 100: 15 is 1500, 9.6 is 906, so 9.6 &lt; 10 &lt; 15 compare
 * as they should (writing 15 as 15 and 9.6 as 906 once made 9.6 look newer than 15).
 */
public record PgVersion(int major, int minor, String text) implements Comparable<PgVersion> {
    private static final Pattern TOOL_OUTPUT = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    /** From server_version_num, e.g. 150018 → 15.18, 90624 → 9.6.24. */
    public static PgVersion fromVersionNum(int num) {
        if (num >= 100000) {
            return new PgVersion(num / 10000 * 100, num % 10000, (num / 10000) + "." + (num % 10000));
        }
        return new PgVersion(num / 100, num % 100, (num / 10000) + "." + (num / 100 % 100) + "." + (num % 100));
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
            return new PgVersion(first * 100, second, first + "." + second);
        }
        int third = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
        return new PgVersion(first * 100 + second, third, first + "." + second + "." + third);
    }

    /** "15" or "9.6": what people call the major version. */
    public String majorText() {
        return major >= 1000 ? Integer.toString(major / 100) : (major / 100) + "." + (major % 100);
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
