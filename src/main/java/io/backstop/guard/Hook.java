package io.backstop.guard;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.util.Optional;

/**
 * The guard as a coding assistant's pre-tool-use hook: reads the tool call as JSON
 * ({@code {"tool_name":"Bash","tool_input":{"command":"..."}}}) and answers in the same
 * protocol ({@code hookSpecificOutput.permissionDecision} allow, ask or deny, with the reason).
 * It fails closed: input it cannot read is denied with the reason. Uses Jackson's streaming
 * parser only: the hook runs before every command, so its start-up time matters.
 */
public final class Hook {
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private Hook() {
    }

    /**
     * The command a Bash tool call would run; a {@link Verdict} of BLOCK when the input cannot be
     * read; neither for another tool's call, which the guard leaves to the assistant's own rules.
     */
    public record Call(String command, Verdict refusal) {
        public boolean otherTool() {
            return command == null && refusal == null;
        }
    }

    /** Reads the hook's raw stdin: anything that is not valid UTF-8 is refused, never guessed at. */
    public static Call read(byte[] input) {
        try {
            return read(java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(input)).toString());
        } catch (java.nio.charset.CharacterCodingException e) {
            return refuse("input is not valid UTF-8: a command the guard cannot read is not run");
        }
    }

    public static Call read(String input) {
        if (input == null || input.isBlank()) {
            return refuse("empty input: expected the pre-tool-use JSON on stdin");
        }
        String tool = null;
        String command = null;
        try (JsonParser p = JSON.createParser(input)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return refuse("input is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("tool_name") && value == JsonToken.VALUE_STRING) {
                    tool = p.getText();
                } else if (field.equals("tool_input") && value == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String inner = p.currentName();
                        JsonToken v = p.nextToken();
                        if (inner.equals("command") && v == JsonToken.VALUE_STRING) {
                            command = p.getText();
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                return refuse("malformed JSON: trailing content after the object");
            }
        } catch (IOException e) {
            String first = e.getMessage().lines().findFirst().orElse("");
            return refuse(first.startsWith("Duplicate field")
                    ? "malformed JSON: " + first + " (a key given twice could hide the command that runs)"
                    : "malformed JSON: " + first);
        }
        if (tool == null) {
            return refuse("no tool_name in the input");
        }
        if (!tool.equals("Bash")) {
            return new Call(null, null); // not a shell command: nothing to say, the normal prompt stays
        }
        if (command == null) {
            return refuse("no tool_input.command in the Bash call");
        }
        return new Call(command, null);
    }

    private static Call refuse(String why) {
        return new Call(null, new Verdict(Decision.BLOCK, why, "hook-input", null));
    }

    /**
     * The hook's answer: {"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":...}}
     * for ask and deny; nothing for allow. An "allow" would tell the assistant to skip the user's own
     * permission prompt, and a guard that found no database danger has no business approving
     * anything else (curl | sh, git push --force): a hook with nothing to say says nothing.
     */
    public static Optional<String> answer(Verdict verdict) {
        if (verdict.decision() == Decision.ALLOW) {
            return Optional.empty();
        }
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeObjectFieldStart("hookSpecificOutput");
            g.writeStringField("hookEventName", "PreToolUse");
            g.writeStringField("permissionDecision", verdict.decision() == Decision.ASK ? "ask" : "deny");
            g.writeStringField("permissionDecisionReason", "backstop guard: " + verdict.reason()
                    + (verdict.rule() == null ? "" : " (rule " + verdict.rule() + ")"));
            g.writeEndObject();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Optional.of(out.toString());
    }

    /** {"decision":..,"reason":..,"rule":..,"matched":..} for --json. */
    public static String json(Verdict verdict) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("decision", verdict.decision().word());
            g.writeStringField("reason", verdict.reason());
            g.writeStringField("rule", verdict.rule());
            g.writeStringField("matched", verdict.matched());
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toString();
    }

    /** The command of one --batch line ({"command": "..."}), empty when the line is not one. */
    public static Optional<String> batchLine(String line) {
        try {
            com.fasterxml.jackson.databind.JsonNode node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            com.fasterxml.jackson.databind.JsonNode command = node == null ? null : node.get("command");
            return command != null && command.isTextual() ? Optional.of(command.asText()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** A --batch line that is not {"command": "..."}: refused, never allowed (fail closed). */
    public static Verdict batchRefusal(String line) {
        return new Verdict(Decision.BLOCK, "not a JSON object with a \"command\" string: " + (line.length() > 80
                ? line.substring(0, 77) + "..." : line), "batch-input", null);
    }
}
