package io.backstop.catalog;

import io.backstop.pg.PgVersion;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The server's version and the database's identity. The identity (cluster system identifier
 * and database OID) changes when a volume is recreated or a database dropped and created
 * again, which row counts alone can miss.
 */
public record ServerInfo(PgVersion version, String systemIdentifier, long databaseOid, long databaseSizeBytes) {
    private static final String VERSION_AND_OID = "SELECT current_setting('server_version_num')::int, d.oid,"
            + " pg_database_size(d.oid) FROM pg_database d WHERE d.datname = current_database()";
    private static final String SYSTEM_IDENTIFIER = "SELECT system_identifier::text FROM pg_control_system()";

    /** Reads on an autocommit connection (a failure here must not abort a snapshot transaction). */
    public static ServerInfo read(Connection c) throws SQLException {
        int versionNum;
        long oid;
        long size;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(VERSION_AND_OID)) {
            rs.next();
            versionNum = rs.getInt(1);
            oid = rs.getLong(2);
            size = rs.getLong(3);
        }
        String systemId = null;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(SYSTEM_IDENTIFIER)) {
            if (rs.next()) {
                systemId = rs.getString(1);
            }
        } catch (SQLException e) {
            // pg_control_system() may be revoked for this role; the database OID still identifies it.
        }
        return new ServerInfo(PgVersion.fromVersionNum(versionNum), systemId, oid, size);
    }
}
