package io.backstop.guard;

/** The guard's answer: the decision, why, which rule, and which part of the line. */
public record Verdict(Decision decision, String reason, String rule, String matched) {
    public static final Verdict ALLOW = new Verdict(Decision.ALLOW, "no destructive command found", null, null);

    public Verdict worst(Verdict other) {
        return other.decision().ordinal() > decision().ordinal() ? other : this;
    }
}
