package io.backstop.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Predicate;

/** Typed reads that record a problem instead of throwing, so all problems surface at once. */
final class Values {
    private final Config c;
    private final Problems problems;
    private final String prefix;

    Values(Config c, Problems problems) {
        this(c, problems, SettingsLoader.ROOT + ".");
    }

    Values(Config c, Problems problems, String prefix) {
        this.c = c;
        this.problems = problems;
        this.prefix = prefix;
    }

    private void bad(String path, String allowed) {
        ConfigValue value = c.getValue(path);
        String shown = value.valueType() == ConfigValueType.STRING ? "\"" + value.unwrapped() + "\"" : value.render();
        problems.add(prefix + path, "must be " + allowed + ", was " + shown, value.origin());
    }

    String string(String path, Predicate<String> ok, String allowed) {
        try {
            String s = c.getString(path);
            if (!ok.test(s)) {
                bad(path, allowed);
            }
            return s;
        } catch (ConfigException.WrongType e) {
            bad(path, allowed);
            return "";
        }
    }

    <T> T parsed(String path, Function<String, T> parser, String allowed) {
        try {
            return parser.apply(c.getString(path));
        } catch (RuntimeException e) {
            bad(path, allowed);
            return null;
        }
    }

    int intRange(String path, int min, int max) {
        return intRange(path, min, max, null);
    }

    int intRange(String path, int min, int max, String why) {
        return (int) longRange(path, min, max, why);
    }

    long longRange(String path, long min, long max) {
        return longRange(path, min, max, null);
    }

    long longRange(String path, long min, long max, String why) {
        String allowed = (min == max ? "exactly " + min : "a whole number from " + min + " to " + max)
                + (why == null ? "" : " (" + why + ")");
        try {
            long value = c.getLong(path);
            if (value < min || value > max) {
                bad(path, allowed);
            }
            return value;
        } catch (ConfigException.WrongType e) {
            bad(path, allowed);
            return min;
        }
    }

    double fraction(String path) {
        try {
            double value = c.getDouble(path);
            if (value < 0 || value > 1 || Double.isNaN(value)) {
                bad(path, "a fraction from 0 to 1 (0.05 = 5%)");
            }
            return value;
        } catch (ConfigException.WrongType e) {
            bad(path, "a fraction from 0 to 1 (0.05 = 5%)");
            return 0;
        }
    }

    Duration duration(String path, Duration min) {
        String allowed = "a duration such as 90s, 5m, 2h or 1d" + (min.isZero() ? " (0 or more)" : ", at least " + min);
        try {
            Duration d = c.getDuration(path);
            if (d.compareTo(min) < 0) {
                bad(path, allowed);
            }
            return d;
        } catch (ConfigException.WrongType | ConfigException.BadValue e) {
            bad(path, allowed);
            return min;
        }
    }

    long bytes(String path, long min, long max, String allowed) {
        try {
            long value = c.getBytes(path);
            if (value < min || value > max) {
                bad(path, "a size " + allowed + ", e.g. 64MiB");
            }
            return value;
        } catch (ConfigException.WrongType | ConfigException.BadValue e) {
            bad(path, "a size " + allowed + ", e.g. 64MiB");
            return min;
        }
    }

    boolean bool(String path) {
        try {
            return c.getBoolean(path);
        } catch (ConfigException.WrongType e) {
            bad(path, "true or false");
            return false;
        }
    }

    /** A secret given inline; a wrong type is reported without the value. */
    Secret secret(String path) {
        try {
            return Secret.of(c.getString(path));
        } catch (ConfigException.WrongType e) {
            problems.add(prefix + path, "must be a string (the secret itself), was a "
                    + c.getValue(path).valueType().name().toLowerCase(Locale.ROOT), c.getValue(path).origin());
            return Secret.none();
        }
    }

    List<String> stringList(String path, String allowed) {
        try {
            return c.getStringList(path);
        } catch (ConfigException.WrongType e) {
            bad(path, allowed);
            return List.of();
        }
    }

    Secret secretFile(String path, String file) {
        try {
            String content = Files.readString(Path.of(file), StandardCharsets.UTF_8);
            return Secret.of(content.strip());
        } catch (IOException | RuntimeException e) {
            // Name the file, never its content.
            problems.add(prefix + path, "cannot read \"" + file + "\" (" + e.getClass().getSimpleName()
                    + "); allowed: a readable file holding only the secret", c.getValue(path).origin());
            return Secret.none();
        }
    }

    /**
     * A secret given inline at {@code path}, or read from the file {@code path-file} names (which wins): the
     * one way every secret of the configuration is read.
     */
    Secret secretOrFile(String path) {
        Secret secret = secret(path);
        String file = string(path + "-file", x -> true, "a file path (a string)");
        return file.isBlank() ? secret : secretFile(path + "-file", file);
    }
}
