package io.backstop.counts;

import java.util.List;

/**
 * A table whose rows are counted. {@code name} is the server's own quoting of schema and
 * table ({@code format('%I.%I')}), so it is safe to use in SQL and unambiguous as a key.
 * {@code dataOids} are the relations whose TABLE DATA a dump must hold for this table: the
 * table itself, or every leaf partition of a partitioned table.
 */
public record CountedTable(long oid, String name, List<Long> dataOids) {
    public CountedTable {
        dataOids = List.copyOf(dataOids);
    }
}
