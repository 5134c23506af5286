package org.plw4j;

import java.util.Locale;
import java.util.Objects;

/**
 * One turn of a chat example: the name of the speaker's role ({@code "system"}, {@code "user"},
 * {@code "assistant"}, {@code "tool"}, ...) and how many tokens the turn spans, template tokens
 * included. A row is a list of segments laid end to end; see
 * {@link PromptCompletionMask#ofRoleSegments(java.util.List, int, Padding, java.util.Set)}.
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * List<RoleSegment> row = List.of(RoleSegment.of("system", 12), RoleSegment.of("user", 30),
 *         RoleSegment.of("assistant", 25));
 * }</pre>
 *
 * @param role the role name, compared exactly (case-sensitive) with the trained roles
 * @param length the number of tokens, {@code >= 0}
 */
public record RoleSegment(String role, int length) {
    /**
     * A segment.
     *
     * @throws NullPointerException if {@code role} is null
     * @throws IllegalArgumentException if {@code length < 0}
     */
    public RoleSegment {
        Objects.requireNonNull(role, "role");
        if (length < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "length must be >= 0, was %d (role \"%s\")", length, role));
        }
    }

    /**
     * A segment, the same as the constructor.
     *
     * <pre>{@code
     * RoleSegment answer = RoleSegment.of("assistant", 25);
     * }</pre>
     *
     * @param role the role name, compared exactly (case-sensitive) with the trained roles
     * @param length the number of tokens, {@code >= 0}
     * @return the segment
     * @throws NullPointerException if {@code role} is null
     * @throws IllegalArgumentException if {@code length < 0}
     */
    public static RoleSegment of(String role, int length) {
        return new RoleSegment(role, length);
    }

    /** @return {@code role(length)}, e.g. {@code assistant(25)} */
    @Override
    public String toString() {
        return role + "(" + length + ")";
    }
}
