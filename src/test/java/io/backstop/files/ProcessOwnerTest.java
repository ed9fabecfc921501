package io.backstop.files;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Who may still be writing a file: a live process here, or on another node only while that node is a member. */
class ProcessOwnerTest {
    private static final String SELF = ProcessOwner.tag(ProcessHandle.current()).orElseThrow();

    @Test
    void aLiveProcessHereIsAliveAndAGoneOneIsNot() {
        assertThat(ProcessOwner.alive(SELF, null, n -> false)).isTrue();
        // The same pid with another start time is another (gone) process: a reused pid is not its owner.
        String reused = ProcessHandle.current().pid() + ".1";
        assertThat(ProcessOwner.alive(reused, null, n -> true)).isFalse();
        assertThat(ProcessOwner.alive("garbage", null, n -> true)).isFalse();
    }

    @Test
    void anotherNodesProcessIsAliveExactlyWhileItsNodeIsAMember() {
        String other = ProcessOwner.nodeHash("node-b");
        List<String> asked = new ArrayList<>();
        // pid 1 exists on this host, but on node-b it means nothing here: only node-b's membership counts.
        String tag = "1.abc." + other;
        assertThat(ProcessOwner.alive(tag, ProcessOwner.nodeHash("node-a"), n -> asked.add(n) && false)).isFalse();
        assertThat(ProcessOwner.alive(tag, ProcessOwner.nodeHash("node-a"), n -> n.equals(other))).isTrue();
        assertThat(asked).containsExactly(other);
    }

    @Test
    void thisNodesOwnTagsAreJudgedByTheProcessHere() {
        String self = ProcessOwner.nodeHash("node-a");
        assertThat(ProcessOwner.alive(SELF + "." + self, self, n -> false)).isTrue();
        assertThat(ProcessOwner.alive(ProcessHandle.current().pid() + ".1." + self, self, n -> true)).isFalse();
    }

    @Test
    void nodeHashesFitAFileNamesTagAndTellNodesApart() {
        String a = ProcessOwner.nodeHash("node-a");
        assertThat(a).matches("[0-9a-z]{1,8}").isEqualTo(ProcessOwner.nodeHash("node-a"));
        assertThat(a).isNotEqualTo(ProcessOwner.nodeHash("node-b"));
        assertThat(ProcessOwner.nodeHash("db-host.example.com")).doesNotContain("-").doesNotContain(".");
    }
}
