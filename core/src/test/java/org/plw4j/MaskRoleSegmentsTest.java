package org.plw4j;

import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link PromptCompletionMask#ofRoleSegments} (SPEC section 8: segments of trained roles COMPLETION, the
 * others PROMPT). Expected roles worked out by hand.
 */
class MaskRoleSegmentsTest {
    private static final Set<String> ASSISTANT = Set.of("assistant");

    @Test
    void multiTurnRightPadding() {
        List<List<RoleSegment>> rows = List.of(
                List.of(RoleSegment.of("system", 2), RoleSegment.of("user", 2), RoleSegment.of("assistant", 2),
                        RoleSegment.of("user", 1), RoleSegment.of("assistant", 2)),
                List.of(RoleSegment.of("user", 3), RoleSegment.of("assistant", 1)));
        assertRoles(PromptCompletionMask.ofRoleSegments(rows, 10, Padding.RIGHT, ASSISTANT),
                "PPPPCCPCCI", "PPPCIIIIII");
    }

    @Test
    void parallelArraysLeftPadding() {
        PromptCompletionMask m = PromptCompletionMask.ofRoleSegments(
                new String[][] {{"user", "assistant"}, {"system", "user", "assistant", "tool", "assistant"}},
                new int[][] {{3, 2}, {1, 1, 1, 1, 1}}, 6, Padding.LEFT, ASSISTANT);
        assertRoles(m, "IPPPCC", "IPPCPC");
    }

    @Test
    void severalTrainedRolesAndZeroLengthSegments() {
        PromptCompletionMask m = PromptCompletionMask.ofRoleSegments(
                new String[][] {{"system", "user", "assistant", "tool", "assistant"}},
                new int[][] {{0, 2, 1, 2, 1}}, 7, Padding.RIGHT, Set.of("assistant", "tool"));
        assertRoles(m, "PPCCCCI");
    }

    @Test
    void roleNamesAreCaseSensitiveAndEmptyTrainedSetMeansAllPrompt() {
        String[][] roles = {{"user", "Assistant"}};
        int[][] lengths = {{1, 2}};
        assertRoles(PromptCompletionMask.ofRoleSegments(roles, lengths, 3, Padding.RIGHT, ASSISTANT), "PPP");
        assertRoles(PromptCompletionMask.ofRoleSegments(roles, lengths, 3, Padding.RIGHT, Set.of()), "PPP");
    }

    @Test
    void rejectsRowLongerThanMaxLength() {
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(new String[][] {{"user"}, {"user", "assistant"}},
                new int[][] {{2}, {3, 3}}, 5, Padding.RIGHT, ASSISTANT), "row 1", "6 tokens", "maxLength = 5");
    }

    @Test
    void rejectsNegativeLength() {
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(new String[][] {{"user", "assistant"}},
                new int[][] {{2, -1}}, 5, Padding.RIGHT, ASSISTANT), "row 0", "lengths[0][1]", "-1");
    }

    @Test
    void rejectsNegativeSegmentLength() {
        assertRejects(() -> RoleSegment.of("user", -3), "length", "-3");
    }

    @Test
    void rejectsSegmentCountMismatch() {
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(new String[][] {{"user", "assistant"}},
                new int[][] {{2}}, 5, Padding.RIGHT, ASSISTANT), "row 0", "2 segments", "1");
    }

    @Test
    void rejectsNullRoleName() {
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(new String[][] {{"user", null}},
                new int[][] {{2, 1}}, 5, Padding.RIGHT, ASSISTANT), "row 0", "roles[0][1]");
    }

    @Test
    void rejectsRowCountMismatch() {
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(new String[][] {{"user"}},
                new int[][] {{1}, {1}}, 5, Padding.RIGHT, ASSISTANT), "lengths", "1", "2");
    }

    @Test
    void rejectsNullSegment() {
        List<RoleSegment> row = new ArrayList<>();
        row.add(null);
        assertRejects(() -> PromptCompletionMask.ofRoleSegments(List.of(row), 5, Padding.RIGHT, ASSISTANT),
                "row 0", "segment 0");
    }
}
