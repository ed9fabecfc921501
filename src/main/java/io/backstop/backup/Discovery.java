package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The databases of a {@code databases} family, each a target of its own: those its server has now whose
 * names match (never a template, never one that refuses connections), and those backed up before that
 * the server no longer has, so a database that disappears stays a target and its check raises the
 * data-loss alarm. A server that cannot be reached gives only the latter (said once in the log).
 */
public final class Discovery {
    private static final Logger log = LoggerFactory.getLogger(Discovery.class);
    private static final String LIST = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
            + " ORDER BY datname";

    private final Path backupDir;
    private final Catalog catalog;

    public Discovery(Path backupDir, Catalog catalog) {
        this.backupDir = backupDir;
        this.catalog = catalog;
    }

    /** The family's targets as of now, by name. */
    public List<Target> targets(Settings.Family family) {
        Map<String, Target> found = new LinkedHashMap<>();
        for (Target known : onDisk(family)) {
            found.put(known.name(), known);
        }
        try {
            for (String db : databases(family)) {
                Target t = target(family, db);
                found.putIfAbsent(t.name(), t);
            }
        } catch (BackstopException e) {
            log.warn("databases of {}: cannot list them on {} ({}); the ones backed up before stay targets",
                    family.name(), family.template().describe(), e.getMessage());
        }
        return List.copyOf(found.values());
    }

    /** The names on the server that match the family's patterns. */
    List<String> databases(Settings.Family family) {
        List<String> out = new ArrayList<>();
        try (Connection c = new Database(family.template()).connect(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(LIST)) {
            while (rs.next()) {
                String name = rs.getString(1);
                if (matches(family.include(), name) && !matches(family.exclude(), name)) {
                    out.add(name);
                }
            }
        } catch (SQLException e) {
            throw new BackstopException(io.backstop.ExitCode.DATABASE_UNREACHABLE, e.getMessage(), e);
        }
        return out;
    }

    static boolean matches(List<String> patterns, String name) {
        for (String p : patterns) {
            PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + p.replace("/", "\\/"));
            if (!name.contains("/") && m.matches(Path.of(name))) {
                return true;
            }
        }
        return false;
    }

    /** {@code <family>-<database>}: the database's name where it fits a target name, else made to fit and made unique. */
    public static Target target(Settings.Family family, String database) {
        Target t = family.template();
        return new Target(name(family.name(), database), t.host(), t.port(), database, t.user(), t.password(), t.sslmode(),
                t.connectTimeout());
    }

    static String name(String family, String database) {
        String clean = database.replaceAll("[^A-Za-z0-9_-]", "_");
        String name = family + "-" + clean;
        if (!clean.equals(database) || name.length() > 63) {
            String hash = HexFormat.of().formatHex(sha1(database), 0, 3);
            name = name.substring(0, Math.min(name.length(), 63 - 7)) + "-" + hash;
        }
        return name;
    }

    private static byte[] sha1(String s) {
        try {
            return MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Targets of this family backed up before: their directories, and the database their newest manifest names. */
    private List<Target> onDisk(Settings.Family family) {
        List<Target> out = new ArrayList<>();
        if (!Files.isDirectory(backupDir)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(backupDir)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String name = d.getFileName().toString();
                if (!Files.isDirectory(d) || !name.startsWith(family.name() + "-")) {
                    continue;
                }
                Optional<String> db = catalog.list(name).stream().flatMap(e -> e.manifest().stream())
                        .map(Manifest::database).filter(x -> x != null).reduce((a, b) -> b);
                db.filter(x -> target(family, x).name().equals(name)).ifPresent(x -> out.add(target(family, x)));
            }
        } catch (IOException e) {
            log.warn("databases of {}: cannot read {} ({})", family.name(), backupDir, e.getMessage());
        }
        return out;
    }
}
