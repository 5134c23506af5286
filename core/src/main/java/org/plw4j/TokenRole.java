package org.plw4j;

/**
 * The role of a token in an instruction-tuning example. The integer codes are the ones used in role
 * arrays ({@link PromptCompletionMask#ofRoles}) and in the DL4J labels' role channel; this enum is the
 * only place that spells them.
 */
public enum TokenRole {
    /** Padding or anything that must not be trained or measured; weight 0. */
    IGNORE(0),
    /** Prompt (instruction, context); weight = the prompt loss weight. */
    PROMPT(1),
    /** Completion (the answer to be generated); weight 1. */
    COMPLETION(2);

    /** The code of {@link #IGNORE} as stored in role arrays. */
    static final byte IGNORE_CODE = IGNORE.codeByte();
    /** The code of {@link #PROMPT} as stored in role arrays. */
    static final byte PROMPT_CODE = PROMPT.codeByte();
    /** The code of {@link #COMPLETION} as stored in role arrays. */
    static final byte COMPLETION_CODE = COMPLETION.codeByte();
    /** The codes and their names, for error messages: {@code 0 (IGNORE), 1 (PROMPT) or 2 (COMPLETION)}. */
    public static final String CODES = IGNORE.described() + ", " + PROMPT.described() + " or " + COMPLETION.described();

    private static final TokenRole[] ROLES = values();

    private final int code;

    TokenRole(int code) {
        this.code = code;
    }

    /** @return the integer code: IGNORE 0, PROMPT 1, COMPLETION 2 */
    public int code() {
        return code;
    }

    private byte codeByte() {
        return (byte) code;
    }

    private String described() {
        return code + " (" + name() + ")";
    }

    /**
     * @param code a number
     * @return whether it is the code of a role (0, 1 or 2)
     */
    public static boolean isCode(long code) {
        for (TokenRole r : ROLES) {
            if (r.code == code) {
                return true;
            }
        }
        return false;
    }

    /**
     * @param code 0, 1 or 2
     * @return the role with that code
     * @throws IllegalArgumentException if {@code code} is not 0, 1 or 2
     */
    public static TokenRole ofCode(int code) {
        for (TokenRole r : ROLES) {
            if (r.code == code) {
                return r;
            }
        }
        throw new IllegalArgumentException("role code must be " + CODES + ", was " + code);
    }
}
