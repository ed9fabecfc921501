package io.backstop.pg;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RedactorTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            pg_restore: error: could not execute query                      | pg_restore: error: could not execute query
            an executable was not found: execute it again                  | an executable was not found: execute it again
            host=db password=s3cret user=app                                | host=db password=**** user=app
            host=db password='pass word' user=app                           | host=db password='****' user=app
            PGPASSWORD=p@ss:w/rd pg_dump                                    | PGPASSWORD=**** pg_dump
            {"password": "x", "user": "a"}                                  | {"password": "****", "user": "a"}
            postgresql://app:p%40ss%3Aw%2Frd@db:5432/app                    | postgresql://app:****@db:5432/app
            FATAL: password authentication failed for user "a"              | FATAL: password authentication failed for user "a"
            """)
    void masksTheSecretWhereItStandsAsOneAndNothingElse(String in, String out) {
        assertThat(Redactor.redact(in)).isEqualTo(out);
    }
}
