package io.backstop.fleet;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * The fleet's shared job store: Quartz's own PostgreSQL tables (its {@code tables_postgres.sql}) in a schema
 * of their own, created at start and upgraded by version, idempotently and under an advisory lock so that
 * nodes starting at once create them once; and the Quartz properties of a clustered JDBC store whose
 * connections come from a HikariCP pool sized from the thread count.
 */
public final class ClusterStore {
    /** The schema's version: 1 is Quartz 2.5's tables; 2 adds Backstop's own (the nodes, the runs). */
    static final int VERSION = 2;

    private ClusterStore() {
    }

    /** Creates or upgrades the schema to {@link #VERSION}; nodes starting at once do it once, in turn. */
    public static void ensureSchema(Settings.Cluster c) {
        try (Connection conn = DriverManager.getConnection(c.jdbcUrl(), login(c))) {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(hashtext('backstop-fleet-schema:" + c.schema() + "'))");
                st.execute("CREATE SCHEMA IF NOT EXISTS " + c.schema());
                st.execute("CREATE TABLE IF NOT EXISTS " + c.schema() + ".backstop_schema (version int NOT NULL)");
                int version = 0;
                try (ResultSet rs = st.executeQuery("SELECT max(version) FROM " + c.schema() + ".backstop_schema")) {
                    if (rs.next()) {
                        version = rs.getInt(1);
                    }
                }
                if (version < 1) {
                    st.execute("SET LOCAL search_path TO " + c.schema());
                    for (String statement : quartzTables()) {
                        st.execute(statement);
                    }
                    st.execute("INSERT INTO " + c.schema() + ".backstop_schema VALUES (1)");
                }
                if (version < 2) {
                    String s = c.schema();
                    // Each node's check-ins (by the database's clock), and each run of a job of any target, by node:
                    // what every node's /health reports for the whole fleet.
                    st.execute("CREATE TABLE " + s + ".backstop_nodes (node text PRIMARY KEY, host text NOT NULL,"
                            + " pid bigint NOT NULL, version text NOT NULL, started_at timestamptz NOT NULL,"
                            + " last_seen timestamptz NOT NULL, left_at timestamptz)");
                    st.execute("CREATE SEQUENCE " + s + ".backstop_runs_seq");
                    st.execute("CREATE TABLE " + s + ".backstop_runs (id bigserial PRIMARY KEY, seq bigint NOT NULL,"
                            + " target text NOT NULL, kind text NOT NULL, node text NOT NULL,"
                            + " started_at timestamptz NOT NULL, finished_at timestamptz, ok boolean, error text,"
                            + " failures int NOT NULL DEFAULT 0)");
                    st.execute("CREATE INDEX ON " + s + ".backstop_runs (seq)");
                    st.execute("CREATE INDEX ON " + s + ".backstop_runs (started_at)");
                    st.execute("INSERT INTO " + s + ".backstop_schema VALUES (2)");
                }
            }
            conn.commit();
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "backstop.cluster: cannot prepare the job store"
                    + " schema " + c.schema() + " at " + c.jdbcUrl() + " as " + c.user() + ": " + e.getMessage(), e);
        }
    }

    /** How a node logs in to the fleet's database (never in argv or a log). */
    static Properties login(Settings.Cluster c) {
        Properties login = new Properties();
        login.setProperty("user", c.user());
        if (c.password().isPresent()) {
            login.setProperty("password", c.password().reveal());
        }
        login.setProperty("ApplicationName", "backstop-fleet " + c.node());
        login.setProperty("connectTimeout", "10");
        login.setProperty("tcpKeepAlive", "true");
        return login;
    }

    /** Quartz's CREATE statements for PostgreSQL (its DROPs left out: nothing here is ever dropped). */
    static List<String> quartzTables() {
        try (InputStream in = org.quartz.Scheduler.class.getResourceAsStream(
                "/org/quartz/impl/jdbcjobstore/tables_postgres.sql")) {
            if (in == null) {
                throw new IllegalStateException("Quartz's tables_postgres.sql is not on the class path");
            }
            String sql = new String(in.readAllBytes(), StandardCharsets.UTF_8).replaceAll("(?m)^--.*$", "");
            return Arrays.stream(sql.split(";")).map(String::strip).filter(s -> !s.isEmpty())
                    .filter(s -> !s.toUpperCase(java.util.Locale.ROOT).startsWith("DROP ")
                            && !s.equalsIgnoreCase("COMMIT")).toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A clustered JDBC job store in the cluster's schema, its connections from a HikariCP pool. */
    public static Properties quartz(Settings.Cluster c, int threads) {
        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", "backstop-fleet");
        p.setProperty("org.quartz.scheduler.instanceId", c.node());
        p.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
        p.setProperty("org.quartz.jobStore.driverDelegateClass", "org.quartz.impl.jdbcjobstore.PostgreSQLDelegate");
        p.setProperty("org.quartz.jobStore.tablePrefix", c.schema() + ".qrtz_");
        p.setProperty("org.quartz.jobStore.isClustered", "true");
        p.setProperty("org.quartz.jobStore.clusterCheckinInterval", Long.toString(c.checkIn().toMillis()));
        p.setProperty("org.quartz.jobStore.misfireThreshold", Long.toString(c.misfireThreshold().toMillis()));
        p.setProperty("org.quartz.jobStore.acquireTriggersWithinLock", "true");
        p.setProperty("org.quartz.jobStore.dataSource", "fleet");
        p.setProperty("org.quartz.dataSource.fleet.provider", "hikaricp");
        p.setProperty("org.quartz.dataSource.fleet.driver", "org.postgresql.Driver");
        p.setProperty("org.quartz.dataSource.fleet.URL", c.jdbcUrl());
        p.setProperty("org.quartz.dataSource.fleet.user", c.user());
        p.setProperty("org.quartz.dataSource.fleet.password", c.password().isPresent() ? c.password().reveal() : "");
        // Every worker may hold one; the cluster manager and the misfire handler one each besides.
        p.setProperty("org.quartz.dataSource.fleet.maxConnections", Integer.toString(threads + 3));
        return p;
    }
}
