package io.backstop.pg;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PgVersionTest {
    @Test
    void nineSixIsOlderThanTenAndFifteenOnOneScale() {
        PgVersion nineSix = PgVersion.fromVersionNum(90624);
        PgVersion ten = PgVersion.fromVersionNum(100023);
        PgVersion fifteen = PgVersion.fromToolOutput("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)");
        assertThat(nineSix).isLessThan(ten).isLessThan(fifteen);
        assertThat(nineSix.majorText()).isEqualTo("9.6");
        assertThat(fifteen.majorText()).isEqualTo("15");
        assertThat(nineSix.text()).isEqualTo("9.6.24");
        assertThat(PgVersion.fromToolOutput("pg_dump (PostgreSQL) 9.6.24")).isEqualByComparingTo(nineSix);
    }

    @Test
    void pgDump15DumpsA96ServerAndAnOlderPgDumpIsCaught() {
        PgVersion server96 = PgVersion.fromVersionNum(90624);
        assertThat(PgTools.dumpCannotRead(PgVersion.fromToolOutput("pg_dump (PostgreSQL) 15.18"), server96)).isEmpty();
        assertThat(PgTools.dumpCannotRead(PgVersion.fromToolOutput("pg_dump (PostgreSQL) 9.5.25"), server96))
                .hasValueSatisfying(why -> assertThat(why).contains("older than the server 9.6.24", "postgresql-client-9.6"));
        assertThat(PgTools.dumpCannotRead(PgVersion.fromToolOutput("pg_dump (PostgreSQL) 15.18"),
                PgVersion.fromVersionNum(160004))).hasValueSatisfying(why -> assertThat(why).contains("PG_MAJOR=16"));
        assertThat(PgTools.dumpCannotRead(PgVersion.fromToolOutput("pg_dump (PostgreSQL) 15.18"),
                PgVersion.fromVersionNum(90124))).hasValueSatisfying(why -> assertThat(why).contains("older than 9.2"));
    }
}
