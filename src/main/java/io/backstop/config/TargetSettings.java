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
    private static final Pattern SLOT_NAME = Pattern.compile("[a-z0-9_]{1,63}");

    private TargetSettings() {
    }

    /** The targets the configuration names; entries with {@code databases} go to {@code families} instead. */
    static List<Settings.Target> read(Config c, Problems problems, List<Settings.Family> families) {
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
            List<String> databases = databases(tc, v, prefix, problems);
            List<String> exclude = v.stringList("exclude-databases", "a list of database name patterns, e.g."
                    + " [\"postgres\", \"test_*\"]");
            Settings.Target target = new Settings.Target(name,
                    v.string("host", s -> !s.isBlank(), "a host name or IP address"),
                    v.intRange("port", 1, 65535),
                    v.string("database", s -> !s.isBlank(), "a database name"),
                    v.string("user", s -> !s.isBlank(), "a role name"),
                    password,
                    v.string("sslmode", SettingsLoader.SSLMODES::contains, "one of " + String.join(", ", new TreeSet<>(SettingsLoader.SSLMODES))),
                    v.duration("connect-timeout", Duration.ofSeconds(1)),
                    pitr(name, c, list.get(i), problems, ROOT + "." + prefix));
            if (databases.isEmpty()) {
                targets.add(target);
            } else {
                if (target.pitr().enabled()) {
                    problems.add(ROOT + "." + prefix + ".pitr.enabled", "WAL streaming is one per server, not per"
                            + " database: give the server a target of its own (database = one of them) with pitr on,"
                            + " and keep it off here", list.get(i).origin());
                }
                families.add(new Settings.Family(target, databases, exclude));
            }
        }
        return targets;
    }

    /** {@code databases}: "*" or a list of name patterns; empty (the default) for a target of one database. */
    private static List<String> databases(Config tc, Values v, String prefix, Problems problems) {
        if (tc.getValue("databases").valueType() == com.typesafe.config.ConfigValueType.STRING) {
            String one = tc.getString("databases");
            return one.isBlank() ? List.of() : List.of(one);
        }
        List<String> list = v.stringList("databases", "\"*\" (every database of the server) or a list of name"
                + " patterns, e.g. [\"shop\", \"tenant_*\"]");
        if (list.stream().anyMatch(String::isBlank)) {
            problems.add(ROOT + "." + prefix + ".databases", "must not hold an empty pattern", tc.getValue("databases")
                    .origin());
        }
        return list;
    }

    /** {@code pitr} of one target: its own block over the global one. */
    private static Settings.Pitr pitr(String target, Config c, ConfigObject own, Problems problems, String where) {
        Config global = c.getConfig("pitr");
        Config pc = global;
        String prefix = ROOT + ".pitr.";
        if (own.containsKey("pitr")) {
            try {
                pc = own.toConfig().getConfig("pitr").withFallback(global);
                prefix = where + ".pitr.";
                for (var e : own.toConfig().getConfig("pitr").entrySet()) {
                    if (!global.hasPath(e.getKey())) {
                        problems.add(prefix + e.getKey(), "unknown key; allowed: " + String.join(", ",
                                new TreeSet<>(global.entrySet().stream().map(java.util.Map.Entry::getKey).toList())),
                                e.getValue().origin());
                    }
                }
            } catch (ConfigException.WrongType e) {
                problems.add(where + ".pitr", "must be an object like { enabled = true }", e.origin());
            }
        }
        Values v = new Values(pc, problems, prefix);
        String slot = v.string("slot", s -> s.isEmpty() || SLOT_NAME.matcher(s).matches(),
                "empty (backstop_<target>) or 1-63 lower-case letters, digits and '_' (a replication slot name)");
        return new Settings.Pitr(v.bool("enabled"),
                slot.isEmpty() ? defaultSlot(target) : slot,
                v.duration("max-lag", Duration.ofSeconds(1)),
                v.duration("base-backup.every", Duration.ofMinutes(1)),
                v.intRange("base-backup.keep", 1, 1000),
                v.bytes("slot-alert", 16L << 20, Long.MAX_VALUE, "at least 16MiB, e.g. 1GiB"));
    }

    /** backstop_ and the target's name as a slot may spell it: lower case, '-' as '_'. */
    static String defaultSlot(String target) {
        String name = "backstop_" + target.toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        return name.length() > 63 ? name.substring(0, 63) : name;
    }
}
