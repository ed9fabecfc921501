package io.backstop.pg;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The keys the alarm stores for what it watches besides rows, read back into their parts. */
class WatchedTest {
    @Test
    void aReferenceKeyNamesItsTableColumnsAndParent() {
        String key = Watched.columnKey("public.rental", "customer_id", "public.customer");
        assertThat(key).isEqualTo("public.rental(customer_id) references public.customer");
        assertThat(Watched.tableOf(key)).contains("public.rental");
        assertThat(Watched.referencedOf(key)).contains("public.customer");
    }

    @Test
    void aParenthesisInsideAQuotedNameIsPartOfTheName() {
        String key = Watched.columnKey("app.\"odd (name)\"", "\"a b\", c", "app.\"parent (x)\"");
        assertThat(Watched.tableOf(key)).contains("app.\"odd (name)\"");
        assertThat(Watched.referencedOf(key)).contains("app.\"parent (x)\"");
    }

    @Test
    void largeObjectsHaveNoTable() {
        assertThat(Watched.tableOf(Watched.LARGE_OBJECTS)).isEmpty();
        assertThat(Watched.referencedOf(Watched.LARGE_OBJECTS)).isEmpty();
    }
}
