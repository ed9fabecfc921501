package io.backstop.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.quartz.CronExpression;

/**
 * Builds {@link Settings} from reference.conf, the operator's file and the environment, in
 * that order of precedence reversed: environment, then file, then defaults. Every problem is
 * collected and reported at once, each naming its full key, the value and what is allowed.
 */
public final class SettingsLoader {
    static final String ROOT = "backstop";
    private static final Pattern COMPRESS = Pattern.compile("auto|\\d|none|(gzip|lz4|zstd)(:\\d{1,2})?");
    static final Set<String> SSLMODES =
            Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");
    /** pg_dump arguments Backstop sets itself; an operator's extra-args may not change them. */
    private static final Pattern RESERVED_DUMP_ARG = Pattern.compile(
            "-(f|F|d|h|p|U|W|w|j|Z)|--(file|format|dbname|host|port|username|password|no-password|jobs"
                    + "|snapshot|compress|lock-wait-timeout)(=.*)?|-[fFdhpUjZ].+");

    private final Map<String, String> env;

    public SettingsLoader(Map<String, String> env) {
        this.env = Map.copyOf(env);
    }

    /** The operator's file: --config, else BACKSTOP_CONFIG, else config/backstop.conf if present. */
    public Optional<Path> locate(Optional<Path> explicit) {
        if (explicit.isPresent()) {
            return explicit;
        }
        String fromEnv = env.get("BACKSTOP_CONFIG");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Optional.of(Path.of(fromEnv));
        }
        Path conventional = Path.of("config", "backstop.conf");
        return Files.isRegularFile(conventional) ? Optional.of(conventional) : Optional.empty();
    }

    public Settings load(Optional<Path> operatorFile) {
        ClassLoader loader = SettingsLoader.class.getClassLoader();
        Config reference = ConfigFactory.parseResources(loader, "reference.conf",
                ConfigParseOptions.defaults().setAllowMissing(false));
        Config overrides = ConfigFactory.parseResources(loader, "overrides.conf");
        Config operator = ConfigFactory.empty();
        if (operatorFile.isPresent()) {
            Path file = operatorFile.get();
            if (!Files.isReadable(file) || Files.isDirectory(file)) {
                throw new BackstopException(ExitCode.USAGE,
                        "configuration file " + file + " does not exist or is not a readable file"
                                + " (given by --config or BACKSTOP_CONFIG)");
            }
            try {
                operator = ConfigFactory.parseFile(file.toFile(),
                        ConfigParseOptions.defaults().setAllowMissing(false));
            } catch (ConfigException e) {
                throw new BackstopException(ExitCode.USAGE, "cannot parse configuration: " + e.getMessage(), e);
            }
        }

        Problems problems = new Problems();
        UnknownKeys.reject(operator, reference, problems);

        Config merged;
        try {
            merged = overrides.withFallback(operator).withFallback(reference).resolve(resolveOptions());
        } catch (ConfigException e) {
            // The message names the unresolved key; it never carries environment values.
            throw new BackstopException(ExitCode.USAGE, "cannot resolve configuration: " + e.getMessage());
        }
        merged = listFromEnvironment(merged, ROOT + ".encryption.recipients");
        try {
            merged.checkValid(reference.resolve(resolveOptions()), ROOT);
        } catch (ConfigException.ValidationFailed e) {
            for (ConfigException.ValidationProblem p : e.problems()) {
                problems.add(p.path(), p.problem(), p.origin());
            }
        }
        // Build even when unknown keys were found: every problem in the file is reported at once.
        Settings settings = null;
        try {
            settings = build(merged.getConfig(ROOT), problems);
        } catch (ConfigException e) {
            problems.add(e.getMessage(), "");
        }
        if (!problems.isEmpty()) {
            throw problems.error();
        }
        return settings;
    }

    /** ${?VAR} substitutions read this loader's environment (tests pass their own), nothing else. */
    private ConfigResolveOptions resolveOptions() {
        return ConfigResolveOptions.defaults().setUseSystemEnvironment(false).appendResolver(new ConfigResolver() {
            @Override
            public ConfigValue lookup(String path) {
                String value = env.get(path);
                return value == null ? null : ConfigValueFactory.fromAnyRef(value, "env var " + path);
            }

            @Override
            public ConfigResolver withFallback(ConfigResolver fallback) {
                return this;
            }
        });
    }

    /** A list key set from the environment arrives as one string: "a, b" or "a b" becomes [a, b]. */
    private static Config listFromEnvironment(Config merged, String path) {
        if (merged.hasPath(path) && merged.getValue(path).valueType() == ConfigValueType.STRING) {
            List<String> items = java.util.Arrays.stream(merged.getString(path).split("[,\\s]+"))
                    .filter(x -> !x.isBlank()).toList();
            return merged.withValue(path, ConfigValueFactory.fromIterable(items, merged.getValue(path).origin().description()));
        }
        return merged;
    }

    private Settings build(Config c, Problems problems) {
        Values v = new Values(c, problems);
        Path backupDir = Path.of(v.string("backup-dir", s -> !s.isBlank(), "a directory path"));
        String schedule = v.string("schedule", SettingsLoader::isCron,
                "a Quartz cron expression with 6 or 7 fields that fires in the future, e.g. \"0 0 * * * ?\" (hourly at :00)");
        ZoneId zone = v.parsed("timezone", ZoneId::of, "a time-zone ID such as UTC or Europe/Berlin");
        Duration staleAfter = v.duration("stale-after", Duration.ofSeconds(1));
        Duration startupGrace = v.duration("startup-grace", Duration.ZERO);

        Settings.Retention retention = retention(v, "retention", 10_000);

        String binDir = v.string("pg-dump.bin-dir", s -> true, "");
        List<String> extraArgs = v.stringList("pg-dump.extra-args", "a list of pg_dump options as strings,"
                + " e.g. [\"--exclude-table-data=audit_log\"]");
        for (int i = 0; i < extraArgs.size(); i++) {
            if (RESERVED_DUMP_ARG.matcher(extraArgs.get(i)).matches()) {
                problems.add(ROOT + ".pg-dump.extra-args[" + i + "]", "\"" + extraArgs.get(i)
                        + "\" is set by Backstop itself; allowed: other pg_dump options such as"
                        + " --exclude-table-data=PATTERN", c.getValue("pg-dump.extra-args").origin());
            }
        }
        Settings.PgDump pgDump = new Settings.PgDump(
                binDir.isBlank() ? Optional.empty() : Optional.of(Path.of(binDir)),
                v.string("pg-dump.compress", s -> COMPRESS.matcher(s).matches(),
                        "auto, zstd[:level] (by pg_dump 16+, else as a stream by Backstop), 0-9 (gzip level), gzip[:level],"
                                + " none, or lz4[:level] on pg_dump 16 and newer"),
                v.intRange("pg-dump.jobs", 1, 1,
                        "pg_dump writes the custom format (-Fc) with a single job"),
                v.duration("pg-dump.lock-wait-timeout", Duration.ofMillis(1)),
                v.duration("pg-dump.timeout", Duration.ofSeconds(1)),
                extraArgs);

        Map<String, Double> thresholds = new LinkedHashMap<>();
        Config t = c.getConfig("row-counts.thresholds");
        for (Map.Entry<String, ConfigValue> e : t.root().entrySet()) {
            Object raw = e.getValue().unwrapped();
            if (raw instanceof Number n && n.doubleValue() >= 0 && n.doubleValue() <= 1) {
                thresholds.put(e.getKey(), n.doubleValue());
            } else {
                problems.add(ROOT + ".row-counts.thresholds.\"" + e.getKey() + "\"", "must be a fraction from 0 to 1,"
                        + " was " + e.getValue().render(), e.getValue().origin());
            }
        }
        Settings.RowCounts rowCounts = new Settings.RowCounts(
                v.stringList("row-counts.tables", "a list of table names as strings, e.g. [\"public.users\"]"),
                v.stringList("row-counts.exclude", "a list of patterns as strings, e.g. [\"public.sessions\", \"audit.*\"]"),
                v.fraction("row-counts.drop-threshold"),
                thresholds,
                v.duration("row-counts.check-interval", Duration.ofSeconds(1)),
                v.longRange("row-counts.estimate-above", 0, Long.MAX_VALUE),
                v.fraction("row-counts.update-threshold"));

        String scratch = v.string("restore-drill.scratch-dir", x -> true, "a directory path");
        String drillHost = v.string("restore-drill.server.host", x -> true, "a host name, or empty");
        Optional<Settings.Target> drillServer = Optional.empty();
        if (!drillHost.isBlank()) {
            Secret drillPassword = v.secretOrFile("restore-drill.server.password");
            drillServer = Optional.of(new Settings.Target("drill-server", drillHost,
                    v.intRange("restore-drill.server.port", 1, 65535), "postgres",
                    v.string("restore-drill.server.user", s -> !s.isBlank(), "a role name"), drillPassword,
                    v.string("restore-drill.server.sslmode", SSLMODES::contains,
                            "one of " + String.join(", ", new java.util.TreeSet<>(SSLMODES))),
                    Duration.ofSeconds(10)));
        }
        Settings.RestoreDrill drill = new Settings.RestoreDrill(v.duration("restore-drill.every", Duration.ZERO),
                scratch.isBlank() ? Optional.empty() : Optional.of(Path.of(scratch)), drillServer,
                v.bool("restore-drill.on-target"), v.duration("restore-drill.rto-target", Duration.ofSeconds(1)));

        Secret token = v.secretOrFile("http.token");
        Settings.Http http = new Settings.Http(
                v.string("http.bind", s -> !s.isBlank(), "an address to listen on, e.g. 0.0.0.0 or 127.0.0.1"),
                v.intRange("http.port", 0, 65535), token);

        Settings.Encryption encryption = new Settings.Encryption(
                v.stringList("encryption.recipients", "a list of age public keys, e.g. [\"age1...\"]"),
                v.bool("encryption.local"), v.bool("encryption.offsite"));
        List<String> recipients = encryption.recipients();
        for (int i = 0; i < recipients.size(); i++) {
            String problem = AgeRecipient.problem(recipients.get(i));
            if (problem != null) {
                problems.add(ROOT + ".encryption.recipients[" + i + "]", problem,
                        c.getValue("encryption.recipients").origin());
            }
        }
        Optional<Settings.Offsite> offsite = OffsiteSettings.read(v, problems);

        List<Settings.Family> families = new java.util.ArrayList<>();
        List<Settings.Target> targets = TargetSettings.read(c, problems, families);
        Settings.Notify notify = NotifySettings.read(c, v, problems);
        return new Settings(backupDir, schedule, zone, staleAfter, startupGrace, retention, pgDump,
                rowCounts, drill, http, offsite, encryption, targets, notify, families, cluster(v));
    }

    /** {@code backstop.cluster}: empty when off. */
    private static Optional<Settings.Cluster> cluster(Values v) {
        boolean enabled = v.bool("cluster.enabled");
        String url = v.string("cluster.jdbc-url", s -> s.isEmpty() || s.startsWith("jdbc:postgresql://"),
                "empty (then host, port and database) or a jdbc:postgresql://HOST[:PORT]/DATABASE URL");
        String host = v.string("cluster.host", s -> !s.isBlank(), "a host name or IP address");
        int port = v.intRange("cluster.port", 1, 65535);
        String database = v.string("cluster.database", s -> !s.isBlank(), "a database name");
        String user = v.string("cluster.user", s -> !s.isBlank(), "a role name");
        Secret password = v.secretOrFile("cluster.password");
        String schema = v.string("cluster.schema", s -> s.matches("[a-z_][a-z0-9_]{0,62}"),
                "a lower-case schema name of letters, digits and '_'");
        String node = v.string("cluster.node", s -> s.isEmpty() || s.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"),
                "empty (the host name) or a name of letters, digits, '.', '_' or '-'");
        Duration checkIn = v.duration("cluster.check-in", Duration.ofSeconds(1));
        Duration misfire = v.duration("cluster.misfire-threshold", Duration.ofSeconds(1));
        int threads = v.intRange("cluster.threads", 1, 256);
        if (!enabled) {
            return Optional.empty();
        }
        if (node.isEmpty()) {
            try {
                node = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                node = "node-" + ProcessHandle.current().pid();
            }
        }
        return Optional.of(new Settings.Cluster(url.isEmpty() ? "jdbc:postgresql://" + host + ":" + port + "/" + database
                : url, user, password, schema, node, checkIn, misfire, threads));
    }

    /** Counts per tier under {@code path}: 0 turns a tier off, but one safety backup always stays. */
    static Settings.Retention retention(Values v, String path, int max) {
        return new Settings.Retention(
                v.intRange(path + ".hourly", 0, max),
                v.intRange(path + ".daily", 0, max),
                v.intRange(path + ".weekly", 0, max),
                v.intRange(path + ".monthly", 0, max),
                v.intRange(path + ".manual", 0, max),
                v.intRange(path + ".safety", 1, max));
    }

    /** A valid Quartz expression that fires at least once from now on (0 0 0 30 2 ? never does). */
    private static boolean isCron(String s) {
        try {
            CronExpression.validateExpression(s);
            return new CronExpression(s).getNextValidTimeAfter(new java.util.Date()) != null;
        } catch (java.text.ParseException | RuntimeException e) {
            return false;
        }
    }


}
