package io.backstop.pg;

import java.util.List;

/**
 * A table whose rows are counted. {@code name} is the server's own quoting of schema and
 * table ({@code format('%I.%I')}), so it is safe to use in SQL and unambiguous as a key.
 * {@code dataOids} are the relations whose TABLE DATA a dump must hold for this table: the
 * table itself, or every leaf partition of a partitioned table. {@code from} is what
 * {@code count(*)} reads so that the count is exactly the rows pg_dump writes for the table:
 * {@code ONLY} the table (an inheritance parent's data entry holds none of its children's
 * rows), the whole tree of a partitioned table, and an extension configuration table with
 * the filter its extension registered for pg_dump.
 */
public record CountedTable(long oid, String name, List<Long> dataOids, String from) {
    public CountedTable {
        dataOids = List.copyOf(dataOids);
    }
}
