package io.backstop.guard;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a shell command line the way a POSIX shell splits it: quoting ('', "", $'', \),
 * line continuations, comments, the operators {@code && || ; | &} and newlines, redirections
 * ({@code < > >> 2> <<< <<}) with here-documents, subshells and command substitutions.
 * It does not expand anything: a guard judges what is written.
 */
final class ShellParser {
    /** One simple command: its words, where its stdin comes from, and whether it is piped from the previous one. */
    record Command(List<String> words, List<String> stdinFiles, List<String> stdinTexts, boolean pipedFrom) {
    }

    /** What a line holds: simple commands in order, plus the text of every $(...) and `...` to judge on its own. */
    record Parsed(List<Command> commands, List<String> substitutions) {
    }

    private final String s;
    private int i;
    private final List<Command> commands = new ArrayList<>();
    private final List<String> substitutions = new ArrayList<>();
    /** A here-document whose body starts on the next line and belongs to {@code stdin} of its command. */
    private record Heredoc(String delimiter, List<String> stdin) {
    }

    private final List<Heredoc> pendingHeredocs = new ArrayList<>();

    private List<String> words = new ArrayList<>();
    private List<String> stdinFiles = new ArrayList<>();
    private List<String> stdinTexts = new ArrayList<>();
    private boolean pipedFrom;

    private ShellParser(String s) {
        this.s = s;
    }

    static Parsed parse(String line) {
        ShellParser p = new ShellParser(line);
        p.run();
        return new Parsed(List.copyOf(p.commands), List.copyOf(p.substitutions));
    }

    private void run() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                i += 2; // line continuation
            } else if (c == ' ' || c == '\t' || c == '\r') {
                i++;
            } else if (c == '\n') {
                i++;
                endCommand(false);
                readHeredocs();
            } else if (c == '#') {
                while (i < s.length() && s.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
                boolean pipe = c == '|' && !(i + 1 < s.length() && s.charAt(i + 1) == '|');
                if (c == '&' && i + 1 < s.length() && s.charAt(i + 1) == '>') {
                    i += 2; // &> file: redirect stdout and stderr
                    skipBlanks();
                    word();
                    continue;
                }
                i += (i + 1 < s.length() && (s.charAt(i + 1) == c) && (c == '&' || c == '|' || c == ';')) ? 2 : 1;
                endCommand(pipe);
            } else if (c == '<' || c == '>' || (Character.isDigit(c) && i + 1 < s.length()
                    && (s.charAt(i + 1) == '>' || s.charAt(i + 1) == '<') && isRedirectStart())) {
                redirect();
            } else {
                words.add(word());
            }
        }
        endCommand(false);
    }

    private boolean isRedirectStart() {
        // "2>" or "2<" at the start of a word: a file-descriptor redirection, not the word "2"
        return i == 0 || " \t\n;&|(".indexOf(s.charAt(i - 1)) >= 0;
    }

    private void redirect() {
        int fd = -1;
        if (Character.isDigit(s.charAt(i))) {
            fd = s.charAt(i) - '0';
            i++;
        }
        char c = s.charAt(i);
        if (c == '<') {
            if (s.startsWith("<<<", i)) {
                i += 3;
                skipBlanks();
                stdinTexts.add(word());
            } else if (s.startsWith("<<", i)) {
                i += 2;
                if (i < s.length() && s.charAt(i) == '-') {
                    i++;
                }
                skipBlanks();
                String delimiter = word();
                pendingHeredocs.add(new Heredoc(delimiter, stdinTexts));
            } else {
                i++;
                if (i < s.length() && (s.charAt(i) == '&' || s.charAt(i) == '>')) {
                    i++;
                }
                skipBlanks();
                String file = word();
                if (fd <= 0) {
                    stdinFiles.add(file);
                }
            }
        } else {
            i++;
            while (i < s.length() && (s.charAt(i) == '>' || s.charAt(i) == '&' || s.charAt(i) == '|')) {
                i++;
            }
            skipBlanks();
            word(); // the output file: writing a file is not what the guard judges
        }
    }

    private void readHeredocs() {
        for (Heredoc heredoc : pendingHeredocs) {
            String delimiter = heredoc.delimiter();
            StringBuilder body = new StringBuilder();
            while (i < s.length()) {
                int end = s.indexOf('\n', i);
                String line = end < 0 ? s.substring(i) : s.substring(i, end);
                i = end < 0 ? s.length() : end + 1;
                if (line.strip().equals(delimiter)) {
                    break;
                }
                body.append(line).append('\n');
            }
            heredoc.stdin().add(body.toString());
        }
        pendingHeredocs.clear();
    }

    private void skipBlanks() {
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
            i++;
        }
    }

    /** One word, quotes removed; $(...) and `...` inside are kept in the word and also collected. */
    private String word() {
        StringBuilder w = new StringBuilder();
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || c == '&' || c == '|' || c == '<'
                    || c == '>' || c == '(' || c == ')') {
                break;
            }
            if (c == '\\') {
                if (i + 1 < s.length()) {
                    if (s.charAt(i + 1) != '\n') {
                        w.append(s.charAt(i + 1));
                    }
                    i += 2;
                } else {
                    i++;
                }
            } else if (c == '\'') {
                int end = s.indexOf('\'', i + 1);
                end = end < 0 ? s.length() : end;
                w.append(s, i + 1, end);
                i = Math.min(s.length(), end + 1);
            } else if (c == '$' && i + 1 < s.length() && s.charAt(i + 1) == '\'') {
                i += 2;
                while (i < s.length() && s.charAt(i) != '\'') {
                    if (s.charAt(i) == '\\' && i + 1 < s.length()) {
                        char e = s.charAt(i + 1);
                        w.append(switch (e) {
                            case 'n' -> '\n';
                            case 't' -> '\t';
                            default -> e;
                        });
                        i += 2;
                    } else {
                        w.append(s.charAt(i++));
                    }
                }
                i++;
            } else if (c == '"') {
                i++;
                while (i < s.length() && s.charAt(i) != '"') {
                    char d = s.charAt(i);
                    if (d == '\\' && i + 1 < s.length() && "\"\\$`\n".indexOf(s.charAt(i + 1)) >= 0) {
                        if (s.charAt(i + 1) != '\n') {
                            w.append(s.charAt(i + 1));
                        }
                        i += 2;
                    } else if (d == '$' && i + 1 < s.length() && s.charAt(i + 1) == '(') {
                        w.append(substitution());
                    } else if (d == '`') {
                        w.append(backquoted());
                    } else {
                        w.append(d);
                        i++;
                    }
                }
                i++;
            } else if (c == '$' && i + 1 < s.length() && s.charAt(i + 1) == '(') {
                w.append(substitution());
            } else if (c == '`') {
                w.append(backquoted());
            } else {
                w.append(c);
                i++;
            }
        }
        return w.toString();
    }

    private String substitution() {
        int start = i;
        i += 2;
        int depth = 1;
        while (i < s.length() && depth > 0) {
            char c = s.charAt(i);
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            } else if (c == '\'' ) {
                int end = s.indexOf('\'', i + 1);
                i = end < 0 ? s.length() - 1 : end;
            }
            i++;
        }
        substitutions.add(s.substring(start + 2, Math.max(start + 2, i - 1)));
        return s.substring(start, i);
    }

    private String backquoted() {
        int end = s.indexOf('`', i + 1);
        end = end < 0 ? s.length() : end;
        substitutions.add(s.substring(i + 1, end));
        String text = s.substring(i, Math.min(s.length(), end + 1));
        i = Math.min(s.length(), end + 1);
        return text;
    }

    /** Ends the command being read; the next one reads the pipe when {@code pipeFollows}. */
    private void endCommand(boolean pipeFollows) {
        if (!words.isEmpty() || !stdinFiles.isEmpty() || !stdinTexts.isEmpty()) {
            // stdinTexts stays shared: a here-document's body arrives after the line ends
            commands.add(new Command(List.copyOf(words), stdinFiles, stdinTexts, pipedFrom));
            words = new ArrayList<>();
            stdinFiles = new ArrayList<>();
            stdinTexts = new ArrayList<>();
        }
        pipedFrom = pipeFollows;
    }
}
