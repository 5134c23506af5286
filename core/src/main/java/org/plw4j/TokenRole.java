package org.plw4j;

/**
 * The role of a token in an instruction-tuning example. The integer codes are the ones used in role
 * arrays ({@link PromptCompletionMask#ofRoles}) and in the DL4J labels' role channel.
 */
public enum TokenRole {
    /** Padding or anything that must not be trained or measured; weight 0. */
    IGNORE(0),
    /** Prompt (instruction, context); weight = the prompt loss weight. */
    PROMPT(1),
    /** Completion (the answer to be generated); weight 1. */
    COMPLETION(2);

    private final int code;

    TokenRole(int code) {
        this.code = code;
    }

    /** @return the integer code: IGNORE 0, PROMPT 1, COMPLETION 2 */
    public int code() {
        return code;
    }

    /**
     * @param code 0, 1 or 2
     * @return the role with that code
     * @throws IllegalArgumentException if {@code code} is not 0, 1 or 2
     */
    public static TokenRole ofCode(int code) {
        switch (code) {
            case 0:
                return IGNORE;
            case 1:
                return PROMPT;
            case 2:
                return COMPLETION;
            default:
                throw new IllegalArgumentException("role code must be 0 (IGNORE), 1 (PROMPT) or 2 (COMPLETION), was " + code);
        }
    }
}
