package io.backstop.guard;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * HTTP clients sending DELETE: how Elasticsearch and OpenSearch indices, CouchDB databases and
 * most data APIs are deleted ({@code curl -X DELETE localhost:9200/orders}).
 */
final class Requests {
    private static final Set<String> CLIENTS = Set.of("curl", "wget", "http", "https", "xh", "httpie");

    private Requests() {
    }

    static Verdict judge(String program, List<String> words) {
        if (!CLIENTS.contains(program)) {
            return Verdict.ALLOW;
        }
        boolean delete = false;
        for (int k = 1; k < words.size(); k++) {
            String w = words.get(k);
            String upper = w.toUpperCase(Locale.ROOT);
            if ((w.equals("-X") || w.equals("--request") || w.equals("--method")) && k + 1 < words.size()) {
                delete |= words.get(k + 1).equalsIgnoreCase("DELETE");
            } else if (upper.equals("-XDELETE") || upper.equals("--REQUEST=DELETE") || upper.equals("--METHOD=DELETE")) {
                delete = true;
            } else if (k == 1 && upper.equals("DELETE") && !program.equals("curl") && !program.equals("wget")) {
                delete = true; // httpie, xh: http DELETE url
            }
        }
        return delete ? new Verdict(Decision.ASK, program + " sends an HTTP DELETE: how search indices (Elasticsearch,"
                + " OpenSearch), CouchDB databases and API data are deleted", "http-delete", String.join(" ", words))
                : Verdict.ALLOW;
    }
}
