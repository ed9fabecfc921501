package io.backstop.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The few JDBC shapes Backstop's SQL takes: a statement, an update count, one number, a column of strings. */
public final class Jdbc {
    private Jdbc() {
    }

    public static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** The rows a statement changed. */
    public static long update(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            return st.executeLargeUpdate(sql);
        }
    }

    /** The first column of the first row, as a number (a count). */
    public static long number(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The first column of every row, with {@code args} bound as text parameters. */
    public static List<String> strings(Connection c, String sql, String... args) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setString(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    /** The first column of the first row, if there is one. */
    public static Optional<String> one(Connection c, String sql, String... args) throws SQLException {
        List<String> r = strings(c, sql, args);
        return r.isEmpty() ? Optional.empty() : Optional.ofNullable(r.get(0));
    }

    /** {@code schema.table} quoted by the server, as SQL may name it. */
    public static String quoted(Connection c, String schema, String table) throws SQLException {
        return one(c, "SELECT format('%I.%I', ?, ?)", schema, table).orElseThrow();
    }
}
