package io.backstop.config;

import static io.backstop.config.SettingsLoader.ROOT;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** {@code backstop.targets}: the databases to back up, each over {@code target-defaults}, names unique. */
final class TargetSettings {
    private static final Pattern TARGET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

    private TargetSettings() {
    }

    static List<Settings.Target> read(Config c, Problems problems) {
        Config defaults = c.getConfig("target-defaults");
        List<? extends ConfigObject> list;
        try {
            list = c.getObjectList("targets");
        } catch (ConfigException.WrongType e) {
            problems.add(ROOT + ".targets", "must be a list of objects like { name = \"app\", host = \"db\" }",
                    e.origin());
            return List.of();
        }
        if (list.isEmpty()) {
            problems.add(ROOT + ".targets", "must name at least one database to back up");
        }
        List<Settings.Target> targets = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String prefix = "targets[" + i + "]";
            Config tc = list.get(i).toConfig().withFallback(defaults);
            Values v = new Values(tc, problems, ROOT + "." + prefix + ".");
            if (!tc.hasPath("name")) {
                problems.add(ROOT + "." + prefix + ".name", "missing; every target needs a name", list.get(i).origin());
                continue;
            }
            String name = v.string("name", s -> TARGET_NAME.matcher(s).matches(),
                    "1-63 letters, digits, '_' or '-', starting with a letter or digit (it is used in file names)");
            if (!names.add(name)) {
                problems.add(ROOT + "." + prefix + ".name", "\"" + name + "\" is used by another target; names must be"
                        + " unique");
            }
            Secret password = v.secretOrFile("password");
            targets.add(new Settings.Target(name,
                    v.string("host", s -> !s.isBlank(), "a host name or IP address"),
                    v.intRange("port", 1, 65535),
                    v.string("database", s -> !s.isBlank(), "a database name"),
                    v.string("user", s -> !s.isBlank(), "a role name"),
                    password,
                    v.string("sslmode", SettingsLoader.SSLMODES::contains, "one of " + String.join(", ", new TreeSet<>(SettingsLoader.SSLMODES))),
                    v.duration("connect-timeout", Duration.ofSeconds(1))));
        }
        return targets;
    }
}
