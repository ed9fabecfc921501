package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.restore.DatabaseProperties;
import io.backstop.restore.Resolver;
import io.backstop.verify.DrillSite;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * How a dropped table (or schema) looked in a backup, as SQL to run again: the archive's schema
 * is restored (schema only, no rows) into a scratch database on the drill site (by default a
 * throwaway local cluster), and pg_dump writes that table's definition from there with
 * everything pg_dump keeps with a table: columns, defaults, constraints, indexes, triggers,
 * rules, policies, comments, grants and owned sequences. Foreign keys from other tables that
 * pointed at it are read from the same catalog.
 */
record Definition(List<String> ddl, List<QualifiedName> tables, List<String> referencing, List<Dependent> dependents) {
    /**
     * What depended on the table and DROP … CASCADE took with it: a view or materialized view (with its
     * own definition, and a materialized view's indexes), or a row-level security policy of another table
     * whose expression read it. {@code kind} says which ("view", "materialized view", "policy"), {@code
     * exists} is a query that returns a row when it exists live. In the order they can be created.
     */
    record Dependent(String kind, String name, List<String> ddl, String exists) {
        boolean materialized() {
            return kind.equals("materialized view");
        }
    }

    /** Restoring a schema's objects needs little room: no rows. */
    private static final long SCHEMA_ONLY_BYTES = 256L * 1024 * 1024;

    static Definition read(Settings settings, PgTools tools, Archive reader, Target target, Resolver.Resolved backup, QualifiedName name,
            boolean wholeSchema, java.util.function.Predicate<String> existsLive) {
        try (DrillSite site = DrillSite.open(settings, tools, target, SCHEMA_ONLY_BYTES)) {
            Database db = new Database(site.server());
            String scratch = "backstop_recover_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            try (Connection admin = db.connect("postgres"); Statement st = admin.createStatement()) {
                st.execute("CREATE DATABASE " + scratch + " TEMPLATE template0");
            }
            try {
                run(tools, reader, db, scratch, settings, List.of(tools.pgRestore().toString(), "--schema-only", "--no-password",
                        "--dbname=" + scratch), backup.file(), false);
                try (Connection c = db.connect(scratch)) {
                    List<QualifiedName> tables = tables(c, name, wholeSchema);
                    List<String> command = new ArrayList<>(List.of(tools.pgDump().resolveSibling("pg_dump").toString(),
                            "--schema-only", "--no-password"));
                    if (wholeSchema) {
                        command.add("--schema=" + sqlPattern(name.schema()));
                    } else {
                        // A partitioned table comes with its partitions (pg_dump --table names each of them).
                        command.add("--table=" + sqlPattern(name.schema()) + "." + sqlPattern(name.table()));
                        tables.forEach(t -> command.add("--table=" + sqlPattern(t.schema()) + "." + sqlPattern(t.table())));
                    }
                    List<String> ddl = statements(run(tools, reader, db, scratch, settings, command, null, true));
                    List<Dependent> dependents = new ArrayList<>();
                    for (String[] view : dependents(c, name, tables, wholeSchema)) {
                        QualifiedName q = QualifiedName.parse(view[0]).orElseThrow();
                        dependents.add(new Dependent(view[1].equals("m") ? "materialized view" : "view", view[0],
                                statements(run(tools, reader, db, scratch, settings, List.of(command.get(0),
                                        "--schema-only", "--no-password", "--table=" + sqlPattern(q.schema()) + "."
                                                + sqlPattern(q.table())), null, true)),
                                "SELECT 1 WHERE to_regclass('" + view[0].replace("'", "''") + "') IS NOT NULL"));
                    }
                    dependents.addAll(policies(c, name, tables, wholeSchema));
                    // One created again by someone since is left as it is.
                    dependents.removeIf(d -> existsLive.test(d.exists()));
                    return new Definition(ddl, tables, referencing(c, tables), dependents);
                }
            } finally {
                try (Connection admin = db.connect("postgres"); Statement st = admin.createStatement()) {
                    st.execute("DROP DATABASE IF EXISTS " + scratch + " WITH (FORCE)");
                }
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "cannot read the definition of " + name + " from "
                    + backup.file().getFileName() + ": " + e.getMessage(), e);
        }
    }

    private static List<String> statements(String sql) {
        List<String> ddl = new ArrayList<>();
        for (String statement : DatabaseProperties.statements(sql)) {
            if (!statement.regionMatches(true, 0, "SET client_encoding", 0, 19)) {
                ddl.add(statement);
            }
        }
        return ddl;
    }

    /**
     * Views and materialized views that depend on the tables (through their rules, at any depth), outside
     * what the DDL already holds, ordered so that each comes after what it depends on: [name, relkind].
     */
    private static List<String[]> dependents(Connection c, QualifiedName name, List<QualifiedName> tables,
            boolean wholeSchema) throws SQLException {
        List<String[]> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                WITH RECURSIVE dep(oid, depth) AS (
                    SELECT c.oid, 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(?::text[], ?::text[]))
                        OR (? AND n.nspname = ?)
                    UNION
                    SELECT r.ev_class, dep.depth + 1 FROM dep
                      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = dep.oid
                                      AND d.classid = 'pg_rewrite'::regclass
                      JOIN pg_rewrite r ON r.oid = d.objid
                     WHERE r.ev_class <> dep.oid AND dep.depth < 50
                )
                SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text, max(dep.depth)
                  FROM dep JOIN pg_class c ON c.oid = dep.oid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('v', 'm') AND dep.depth > 0 AND NOT (? AND n.nspname = ?)
                 GROUP BY 1, 2 ORDER BY 3, 1""")) {
            bindDropped(c, ps, name, tables, wholeSchema);
            ps.setBoolean(5, wholeSchema);
            ps.setString(6, name.schema());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
        }
        return out;
    }

    /**
     * Row-level security policies of tables that stay, whose expressions read the tables (DROP … CASCADE
     * drops them with the table), written back as CREATE POLICY with every name qualified.
     */
    private static List<Dependent> policies(Connection c, QualifiedName name, List<QualifiedName> tables,
            boolean wholeSchema) throws SQLException {
        List<Dependent> out = new ArrayList<>();
        try (Statement st = c.createStatement()) {
            st.execute("SET search_path = ''"); // pg_get_expr then qualifies every name it writes
        }
        try (PreparedStatement ps = c.prepareStatement("""
                WITH base AS (
                    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(?::text[], ?::text[]))
                        OR (? AND n.nspname = ?))
                SELECT format('policy %I on %I.%I', pol.polname, n.nspname, r.relname),
                       format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s', pol.polname, n.nspname, r.relname,
                              CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                              CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                              coalesce((SELECT string_agg(CASE WHEN rid = 0 THEN 'PUBLIC'
                                                               ELSE quote_ident(pg_get_userbyid(rid)) END, ', ')
                                          FROM unnest(pol.polroles) rid), 'PUBLIC'),
                              coalesce(' USING (' || pg_get_expr(pol.polqual, pol.polrelid) || ')', ''),
                              coalesce(' WITH CHECK (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')', '')),
                       format('SELECT 1 FROM pg_policy WHERE polname = %L AND polrelid = to_regclass(%L)', pol.polname,
                              format('%I.%I', n.nspname, r.relname))
                  FROM pg_policy pol JOIN pg_class r ON r.oid = pol.polrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                 WHERE pol.polrelid NOT IN (SELECT oid FROM base)
                   AND pol.oid IN (SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_policy'::regclass
                                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM base))
                 ORDER BY 1""")) {
            bindDropped(c, ps, name, tables, wholeSchema);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Dependent("policy", rs.getString(1).substring("policy ".length()),
                            List.of(rs.getString(2)), rs.getString(3)));
                }
            }
        }
        return out;
    }

    /**
     * Binds the first four parameters of a query that names what was dropped: the schemas and names of the
     * table and its partitions (two text arrays), then whether the whole schema was, and the schema.
     */
    private static void bindDropped(Connection c, PreparedStatement ps, QualifiedName name, List<QualifiedName> tables,
            boolean wholeSchema) throws SQLException {
        List<QualifiedName> dropped = new ArrayList<>(List.of(name));
        dropped.addAll(tables);
        ps.setArray(1, c.createArrayOf("text", dropped.stream().map(QualifiedName::schema).toArray()));
        ps.setArray(2, c.createArrayOf("text", dropped.stream().map(QualifiedName::table).toArray()));
        ps.setBoolean(3, wholeSchema);
        ps.setString(4, name.schema());
    }

    /** A pg_dump pattern matching exactly this name: double quotes make it literal. */
    private static String sqlPattern(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    private static String run(PgTools tools, Archive reader, Database db, String database, Settings settings,
            List<String> command, java.nio.file.Path archive, boolean output) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Database.PasswordFile passfile = db.passwordFile()) {
            java.util.Map<String, String> env = db.libpqEnvironment(passfile, database);
            ProcessRunner.Spec spec = (archive == null ? ProcessRunner.Spec.of(command, env, settings.pgDump().timeout())
                    : reader.pgRestore(command, archive, env, settings.pgDump().timeout()))
                    .withStdout(in -> in.transferTo(out));
            ProcessRunner.Result r = new ProcessRunner().run(spec, p -> { });
            // pg_restore --schema-only may meet objects this server cannot create (a missing extension):
            // the definition asked for is still there; pg_dump must succeed.
            if (output && r.exitCode() != 0) {
                throw new BackstopException(ExitCode.DUMP_FAILED, command.get(0) + " failed (exit code " + r.exitCode()
                        + "):\n    " + r.stderrTail());
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static List<QualifiedName> tables(Connection c, QualifiedName name, boolean wholeSchema) throws SQLException {
        List<QualifiedName> out = new ArrayList<>();
        // The table, or a partitioned table's partitions (at any depth), or every table of the schema.
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind = 'r' AND ((? AND n.nspname = ?) OR (n.nspname = ? AND c.relname = ?) OR c.oid IN (
                       SELECT t.relid FROM pg_class p JOIN pg_namespace pn ON pn.oid = p.relnamespace,
                              pg_partition_tree(p.oid) t
                        WHERE pn.nspname = ? AND p.relname = ?))
                 ORDER BY 1, 2""")) {
            ps.setBoolean(1, wholeSchema);
            ps.setString(2, name.schema());
            ps.setString(3, name.schema());
            ps.setString(4, name.table());
            ps.setString(5, name.schema());
            ps.setString(6, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new QualifiedName(rs.getString(1), rs.getString(2)));
                }
            }
        }
        if (out.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, name + " is not a table in the backup");
        }
        return out;
    }

    /** ALTER TABLE ... ADD CONSTRAINT for foreign keys of other tables that referenced the recreated ones. */
    private static List<String> referencing(Connection c, List<QualifiedName> tables) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement()) {
            st.execute("SET search_path = ''"); // pg_get_constraintdef then qualifies every name it writes
        }
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', cn.nspname, cr.relname, k.conname,
                              pg_get_constraintdef(k.oid))
                  FROM pg_constraint k
                  JOIN pg_class cr ON cr.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
                  JOIN pg_class pr ON pr.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pr.relnamespace
                 WHERE k.contype = 'f' AND pn.nspname = ? AND pr.relname = ?
                   AND NOT (cn.nspname = pn.nspname AND (? OR cr.relname = pr.relname))
                """)) {
            for (QualifiedName t : tables) {
                ps.setString(1, t.schema());
                ps.setString(2, t.table());
                ps.setBoolean(3, tables.size() > 1);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
            }
        }
        return out;
    }
}
