package io.backstop.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashSet;
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
    private static final String ROOT = "backstop";
    private static final Pattern TARGET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");
    private static final Pattern COMPRESS = Pattern.compile("auto|\\d|none|(gzip|lz4|zstd)(:\\d{1,2})?");
    private static final Set<String> SSLMODES =
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

        List<String> problems = new ArrayList<>();
        rejectUnknownKeys(operator, reference, problems);

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
                problems.add(p.path() + ": " + p.problem() + originOf(p.origin()));
            }
        }
        // Build even when unknown keys were found: every problem in the file is reported at once.
        Settings settings = null;
        try {
            settings = build(merged.getConfig(ROOT), problems);
        } catch (ConfigException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) {
            // One line per key: the schema check and the typed reads may both see the same bad value.
            Set<String> keys = new HashSet<>();
            problems.removeIf(p -> !keys.add(p.contains(":") ? p.substring(0, p.indexOf(':')) : p));
            throw new BackstopException(ExitCode.USAGE, "invalid configuration ("
                    + problems.size() + (problems.size() == 1 ? " problem" : " problems") + "):\n  - "
                    + String.join("\n  - ", problems));
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

    private static void rejectUnknownKeys(Config operator, Config reference, List<String> problems) {
        for (String rootKey : operator.root().keySet()) {
            if (!rootKey.equals(ROOT)) {
                problems.add(rootKey + ": unknown top-level key; Backstop reads only the `backstop { ... }` block"
                        + originOf(operator.root().get(rootKey).origin()));
            }
        }
        if (!operator.hasPath(ROOT)) {
            return;
        }
        if (operator.getValue(ROOT).valueType() != ConfigValueType.OBJECT) {
            return; // checkValid reports the wrong type
        }
        Config mine = operator.getConfig(ROOT);
        Config known = reference.getConfig(ROOT);
        for (Map.Entry<String, ConfigValue> e : mine.entrySet()) {
            String path = e.getKey();
            if (path.startsWith("row-counts.thresholds.")) {
                continue; // keys are table names
            }
            if (!known.hasPathOrNull(path) && !isUnderTargets(path) && !path.startsWith("guard.rules")) {
                problems.add(ROOT + "." + path + ": unknown key" + suggestion(path, known)
                        + originOf(e.getValue().origin()));
            }
        }
        if (mine.hasPath("targets") && mine.getValue("targets").valueType() == ConfigValueType.LIST) {
            Set<String> targetKeys = new HashSet<>(known.getConfig("target-defaults").root().keySet());
            targetKeys.add("name");
            List<? extends ConfigValue> list = mine.getList("targets");
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i) instanceof ConfigObject object) {
                    for (String k : object.keySet()) {
                        if (!targetKeys.contains(k)) {
                            problems.add(ROOT + ".targets[" + i + "]." + k + ": unknown key; allowed: "
                                    + String.join(", ", new java.util.TreeSet<>(targetKeys))
                                    + originOf(object.get(k).origin()));
                        }
                    }
                }
            }
        }
    }

    private static boolean isUnderTargets(String path) {
        return path.equals("targets") || path.startsWith("targets.");
    }

    private static String suggestion(String path, Config known) {
        String parent = path.contains(".") ? path.substring(0, path.lastIndexOf('.')) : "";
        Set<String> siblings = parent.isEmpty() ? known.root().keySet()
                : known.hasPath(parent) && known.getValue(parent).valueType() == ConfigValueType.OBJECT
                        ? known.getConfig(parent).root().keySet() : Set.of();
        return siblings.isEmpty() ? "" : "; allowed here: " + String.join(", ", new java.util.TreeSet<>(siblings));
    }

    private Settings build(Config c, List<String> problems) {
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
                problems.add(ROOT + ".pg-dump.extra-args[" + i + "]: \"" + extraArgs.get(i)
                        + "\" is set by Backstop itself; allowed: other pg_dump options such as"
                        + " --exclude-table-data=PATTERN" + originOf(c.getValue("pg-dump.extra-args").origin()));
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
                problems.add(ROOT + ".row-counts.thresholds.\"" + e.getKey() + "\": must be a fraction from 0 to 1,"
                        + " was " + e.getValue().render() + originOf(e.getValue().origin()));
            }
        }
        Settings.RowCounts rowCounts = new Settings.RowCounts(
                v.stringList("row-counts.tables", "a list of table names as strings, e.g. [\"public.users\"]"),
                v.stringList("row-counts.exclude", "a list of patterns as strings, e.g. [\"public.sessions\", \"audit.*\"]"),
                v.fraction("row-counts.drop-threshold"),
                thresholds,
                v.duration("row-counts.check-interval", Duration.ofSeconds(1)),
                v.longRange("row-counts.estimate-above", 0, Long.MAX_VALUE));

        String scratch = v.string("restore-drill.scratch-dir", x -> true, "a directory path");
        String drillHost = v.string("restore-drill.server.host", x -> true, "a host name, or empty");
        Optional<Settings.Target> drillServer = Optional.empty();
        if (!drillHost.isBlank()) {
            Secret drillPassword = v.secret("restore-drill.server.password");
            String drillPasswordFile = v.string("restore-drill.server.password-file", x -> true, "a file path");
            if (!drillPasswordFile.isBlank()) {
                drillPassword = v.secretFile("restore-drill.server.password-file", drillPasswordFile);
            }
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

        Secret token = v.secret("http.token");
        String tokenFile = v.string("http.token-file", x -> true, "a file path (a string)");
        if (!tokenFile.isBlank()) {
            token = v.secretFile("http.token-file", tokenFile);
        }
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
                problems.add(ROOT + ".encryption.recipients[" + i + "]: " + problem + originOf(c.getValue(
                        "encryption.recipients").origin()));
            }
        }
        Optional<Settings.Offsite> offsite = buildOffsite(v, c, problems);

        List<Settings.Target> targets = buildTargets(c, problems);
        return new Settings(backupDir, schedule, zone, staleAfter, startupGrace, retention, pgDump,
                rowCounts, drill, http, offsite, encryption, targets);
    }

    /** Counts per tier under {@code path}: 0 turns a tier off, but one safety backup always stays. */
    private static Settings.Retention retention(Values v, String path, int max) {
        return new Settings.Retention(
                v.intRange(path + ".hourly", 0, max),
                v.intRange(path + ".daily", 0, max),
                v.intRange(path + ".weekly", 0, max),
                v.intRange(path + ".monthly", 0, max),
                v.intRange(path + ".manual", 0, max),
                v.intRange(path + ".safety", 1, max));
    }

    private static final Pattern S3_URL = Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(.*))?");
    private static final Set<String> LOCK_MODES = Set.of("none", "governance", "compliance");

    private static Optional<Settings.Offsite> buildOffsite(Values v, Config c, List<String> problems) {
        String url = v.string("offsite.url", s -> s.isEmpty() || S3_URL.matcher(s).matches(),
                "empty (no offsite copies) or s3://BUCKET[/PREFIX], a bucket name of 3-63 lower-case letters, digits,"
                        + " '.' or '-'");
        String endpoint = v.string("offsite.endpoint", s -> s.isEmpty() || s.matches("https?://[^\\s/]+(/.*)?"),
                "empty (AWS) or an http(s) URL such as https://minio.internal:9000");
        Secret accessKey = v.secret("offsite.access-key");
        String accessKeyFile = v.string("offsite.access-key-file", x -> true, "a file path (a string)");
        if (!accessKeyFile.isBlank()) {
            accessKey = v.secretFile("offsite.access-key-file", accessKeyFile);
        }
        Secret secretKey = v.secret("offsite.secret-key");
        String secretKeyFile = v.string("offsite.secret-key-file", x -> true, "a file path (a string)");
        if (!secretKeyFile.isBlank()) {
            secretKey = v.secretFile("offsite.secret-key-file", secretKeyFile);
        }
        Settings.Retention retention = retention(v, "offsite.retention", 100_000);
        String mode = v.string("offsite.object-lock.mode", LOCK_MODES::contains, "none, governance or compliance");
        Duration period = v.duration("offsite.object-lock.period", Duration.ofDays(1));
        Duration maxLag = v.duration("offsite.max-lag", Duration.ofSeconds(1));
        Duration interval = v.duration("offsite.interval", Duration.ofSeconds(1));
        long partSize = v.bytes("offsite.part-size", 5L << 20, 5L << 30, "from 5MiB to 5GiB (the store's part limits)");
        long threshold = v.bytes("offsite.multipart-threshold", 5L << 20, 5L << 30,
                "from 5MiB to 5GiB (the largest single upload a store takes)");
        String checksum = v.string("offsite.checksum", s -> s.equals("crc32c") || s.equals("sha256") || s.equals("md5"),
                "crc32c, sha256 or md5");
        String uploader = v.string("offsite.uploader", s -> s.equals("auto") || s.equals("curl") || s.equals("sdk"),
                "auto, curl or sdk");
        String region = v.string("offsite.region", s -> !s.isBlank(), "a region name such as us-east-1");
        boolean pathStyle = v.bool("offsite.path-style");
        if (url.isEmpty() || !S3_URL.matcher(url).matches()) {
            return Optional.empty();
        }
        if (!accessKey.isPresent() || !secretKey.isPresent()) {
            problems.add(ROOT + ".offsite: url is set but " + (accessKey.isPresent() ? "secret-key" : "access-key")
                    + " is empty; allowed: access-key/secret-key, access-key-file/secret-key-file, or the environment"
                    + " (BACKSTOP_OFFSITE_ACCESS_KEY[_FILE], BACKSTOP_OFFSITE_SECRET_KEY[_FILE], AWS_ACCESS_KEY_ID,"
                    + " AWS_SECRET_ACCESS_KEY)");
        }
        java.util.regex.Matcher m = S3_URL.matcher(url);
        m.matches();
        String prefix = m.group(3) == null ? "" : m.group(3).replaceAll("^/+|/+$", "");
        return Optional.of(new Settings.Offsite(m.group(1), prefix,
                endpoint.isEmpty() ? Optional.empty() : Optional.of(java.net.URI.create(endpoint)), region, pathStyle,
                accessKey, secretKey, retention,
                mode.equals("none") ? Optional.empty() : Optional.of(new Settings.ObjectLock(mode, period)),
                maxLag, interval, threshold, partSize, checksum, uploader));
    }

    private List<Settings.Target> buildTargets(Config c, List<String> problems) {
        Config defaults = c.getConfig("target-defaults");
        List<? extends ConfigObject> list;
        try {
            list = c.getObjectList("targets");
        } catch (ConfigException.WrongType e) {
            problems.add(ROOT + ".targets: must be a list of objects like { name = \"app\", host = \"db\" }"
                    + originOf(e.origin()));
            return List.of();
        }
        if (list.isEmpty()) {
            problems.add(ROOT + ".targets: must name at least one database to back up");
        }
        List<Settings.Target> targets = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String prefix = "targets[" + i + "]";
            Config tc = list.get(i).toConfig().withFallback(defaults);
            Values v = new Values(tc, problems, ROOT + "." + prefix + ".");
            if (!tc.hasPath("name")) {
                problems.add(ROOT + "." + prefix + ".name: missing; every target needs a name"
                        + originOf(list.get(i).origin()));
                continue;
            }
            String name = v.string("name", s -> TARGET_NAME.matcher(s).matches(),
                    "1-63 letters, digits, '_' or '-', starting with a letter or digit (it is used in file names)");
            if (!names.add(name)) {
                problems.add(ROOT + "." + prefix + ".name: \"" + name + "\" is used by another target; names must be unique");
            }
            Secret password = v.secret("password");
            String passwordFile = v.string("password-file", x -> true, "a file path (a string)");
            if (!passwordFile.isBlank()) {
                password = v.secretFile("password-file", passwordFile);
            }
            targets.add(new Settings.Target(name,
                    v.string("host", s -> !s.isBlank(), "a host name or IP address"),
                    v.intRange("port", 1, 65535),
                    v.string("database", s -> !s.isBlank(), "a database name"),
                    v.string("user", s -> !s.isBlank(), "a role name"),
                    password,
                    v.string("sslmode", SSLMODES::contains, "one of " + String.join(", ", new java.util.TreeSet<>(SSLMODES))),
                    v.duration("connect-timeout", Duration.ofSeconds(1))));
        }
        return targets;
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

    static String originOf(com.typesafe.config.ConfigOrigin origin) {
        if (origin == null) {
            return "";
        }
        String description = origin.description();
        if (origin.filename() != null) {
            return " (" + origin.filename() + (origin.lineNumber() > 0 ? ": line " + origin.lineNumber() : "") + ")";
        }
        if (description != null && description.startsWith("env var")) {
            return " (from environment variable " + description.substring("env var".length()).trim() + ")";
        }
        if (description != null && description.contains("environment variables")) {
            return " (from an environment variable)";
        }
        return "";
    }

    /** Typed reads that record a problem instead of throwing, so all problems surface at once. */
    private static final class Values {
        private final Config c;
        private final List<String> problems;
        private final String prefix;

        Values(Config c, List<String> problems) {
            this(c, problems, ROOT + ".");
        }

        Values(Config c, List<String> problems, String prefix) {
            this.c = c;
            this.problems = problems;
            this.prefix = prefix;
        }

        private void bad(String path, String allowed) {
            ConfigValue value = c.getValue(path);
            String shown = value.valueType() == ConfigValueType.STRING ? "\"" + value.unwrapped() + "\"" : value.render();
            problems.add(prefix + path + ": must be " + allowed + ", was " + shown + originOf(value.origin()));
        }

        String string(String path, java.util.function.Predicate<String> ok, String allowed) {
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

        <T> T parsed(String path, java.util.function.Function<String, T> parser, String allowed) {
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
                problems.add(prefix + path + ": must be a string (the secret itself), was a "
                        + c.getValue(path).valueType().name().toLowerCase(java.util.Locale.ROOT) + originOf(c.getValue(path).origin()));
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
                problems.add(prefix + path + ": cannot read \"" + file + "\" (" + e.getClass().getSimpleName()
                        + "); allowed: a readable file holding only the secret" + originOf(c.getValue(path).origin()));
                return Secret.none();
            }
        }
    }
}
