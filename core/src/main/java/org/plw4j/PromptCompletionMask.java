package org.plw4j;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Which tokens of a batch are prompt, completion or ignored (SPEC section 8), or explicit per-token
 * weights. Roles are aligned with <em>input positions</em> {@code [B, N]}: the role of a token is the
 * role of predicting it (under the loss's shift, position {@code t} of the logits is weighted by the
 * role of token {@code t + 1}). Immutable and thread-safe.
 *
 * <p>The builders, one per source of roles:
 * <table class="striped">
 * <caption>Mask builders</caption>
 * <thead><tr><th>factory</th><th>rule</th></tr></thead>
 * <tbody>
 * <tr><td>{@link #ofRoles(INDArray)}</td><td>codes given directly (0 IGNORE, 1 PROMPT, 2 COMPLETION)</td></tr>
 * <tr><td>{@link #ofPromptLengths(int[], int[], int, Padding)}</td><td>first {@code p} tokens PROMPT, the
 *     next {@code n - p} COMPLETION, padding IGNORE, on either padding side</td></tr>
 * <tr><td>{@link #ofAttentionMask(INDArray, int[])}</td><td>the first {@code p} attended tokens PROMPT,
 *     the other attended tokens COMPLETION</td></tr>
 * <tr><td>{@link #ofHfLabels(INDArray, INDArray, int)}</td><td>Hugging Face labels: {@code -100} PROMPT,
 *     others COMPLETION, attention 0 IGNORE</td></tr>
 * <tr><td>{@link #ofResponseTemplate(INDArray, INDArray, int[], int[])}</td><td>after each response
 *     template up to the next instruction template COMPLETION (multi-turn)</td></tr>
 * <tr><td>{@link #ofRoleSegments(List, int, Padding, Set)}</td><td>chat turns of trained roles
 *     COMPLETION</td></tr>
 * <tr><td>{@link #ofCharOffsets(INDArray, INDArray, int[])}</td><td>tokens ending at or before the
 *     prompt's character length PROMPT (chat-template agnostic)</td></tr>
 * <tr><td>{@link #ofPacked(int[][][], int)}</td><td>several examples per row; each example's first
 *     token IGNORE</td></tr>
 * </tbody>
 * </table>
 *
 * <p>Every builder checks its whole input before it builds anything and rejects impossible input
 * (a prompt longer than its sequence, a length past {@code N}, a negative length, overlapping or
 * overflowing packed examples, an empty template, mismatched shapes) with an
 * {@link IllegalArgumentException} that names the row and the values. Inputs are never modified.
 *
 * <pre>{@code
 * PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
 *         new int[] {3, 2}, new int[] {5, 4}, 6, Padding.RIGHT);
 * // row 0: P P P C C I    row 1: P P C C I I
 * }</pre>
 */
public final class PromptCompletionMask {
    private static final System.Logger LOG = System.getLogger(PromptCompletionMask.class.getName());

    private final int batch;
    private final int length;
    /** [B*N] role codes, or null when only weights are given. */
    private final byte[] roles;
    /** [B*N] explicit weights, or null when the weights come from roles and the PLW. */
    private final double[] weights;
    /** Rows reported by the builder (e.g. response template not found), ascending. */
    private final int[] reportedRows;

    private PromptCompletionMask(int batch, int length, byte[] roles, double[] weights, int[] reportedRows) {
        this.batch = batch;
        this.length = length;
        this.roles = roles;
        this.weights = weights;
        this.reportedRows = reportedRows;
    }

    private static PromptCompletionMask of(MaskBuilders.Roles r) {
        return new PromptCompletionMask(r.batch(), r.length(), r.codes(), null, r.reportedRows());
    }

    /**
     * Roles given directly as codes (0 IGNORE, 1 PROMPT, 2 COMPLETION, see {@link TokenRole}).
     *
     * @param roles {@code [B, N]} array of codes, any numeric dtype holding integral values
     * @return the mask
     * @throws IllegalArgumentException if {@code roles} is null, not rank 2, or holds a value other than 0, 1, 2
     */
    public static PromptCompletionMask ofRoles(INDArray roles) {
        return of(MaskBuilders.roles(roles));
    }

    /**
     * Roles given directly as codes, one {@code int[]} per row (all rows the same length).
     *
     * @param roles {@code [B][N]} codes 0, 1, 2
     * @return the mask
     * @throws IllegalArgumentException on ragged rows or a code other than 0, 1, 2
     */
    public static PromptCompletionMask ofRoles(int[][] roles) {
        return of(MaskBuilders.roles(roles));
    }

    /**
     * Explicit per-token weights instead of roles and a PLW (SPEC section 1): the weight of predicting
     * each input position. The prompt/completion breakdown is then unavailable (reported as 0 tokens).
     *
     * @param weights {@code [B, N]}, finite and {@code >= 0}
     * @return the mask
     * @throws IllegalArgumentException if not rank 2 or a weight is negative, NaN or infinite
     */
    public static PromptCompletionMask ofWeights(INDArray weights) {
        double[] w = MaskBuilders.weights(weights);
        return new PromptCompletionMask((int) weights.size(0), (int) weights.size(1), null, w, new int[0]);
    }

    /**
     * Explicit per-token weights together with roles, so that the prompt/completion metrics are still
     * reported. The roles decide which targets are measured; the weights decide the loss.
     *
     * @param weights {@code [B, N]}, finite and {@code >= 0}
     * @param roles {@code [B, N]} codes 0, 1, 2
     * @return the mask
     * @throws IllegalArgumentException on a bad weight or code, or mismatched shapes
     */
    public static PromptCompletionMask ofWeights(INDArray weights, INDArray roles) {
        PromptCompletionMask w = ofWeights(weights);
        PromptCompletionMask r = ofRoles(roles);
        if (w.batch != r.batch || w.length != r.length) {
            throw new IllegalArgumentException("weights and roles must have the same shape, were "
                    + Nd4jArrays.shape(weights) + " and " + Nd4jArrays.shape(roles));
        }
        return new PromptCompletionMask(w.batch, w.length, r.roles, w.weights, new int[0]);
    }

    /**
     * Roles from prompt lengths and sequence lengths (SPEC section 8). With {@link Padding#RIGHT}
     * positions {@code [0, p)} are PROMPT, {@code [p, n)} COMPLETION and {@code [n, N)} IGNORE; with
     * {@link Padding#LEFT} the same pattern is shifted right by {@code N - n}, so the padding comes
     * first.
     *
     * <pre>{@code
     * // N = 6, row 0: prompt 2, sequence 5; row 1: prompt 1, sequence 3
     * PromptCompletionMask left = PromptCompletionMask.ofPromptLengths(
     *         new int[] {2, 1}, new int[] {5, 3}, 6, Padding.LEFT);
     * // row 0: I P P C C C    row 1: I I I P C C
     * }</pre>
     *
     * @param promptLengths {@code p_b} per row, {@code 0 <= p_b <= n_b}
     * @param sequenceLengths {@code n_b} per row (prompt + completion tokens), {@code 0 <= n_b <= maxLength}
     * @param maxLength {@code N}, the row length, {@code >= 1}
     * @param side where the padding is
     * @return the mask, {@code [B, N]} with {@code B = promptLengths.length}
     * @throws IllegalArgumentException if the arrays differ in length, {@code maxLength < 1}, or a row
     *         has a negative length, {@code p_b > n_b} or {@code n_b > N}
     * @throws NullPointerException if an argument is null
     */
    public static PromptCompletionMask ofPromptLengths(int[] promptLengths, int[] sequenceLengths, int maxLength,
            Padding side) {
        return of(MaskBuilders.promptLengths(promptLengths, sequenceLengths, maxLength, side));
    }

    /**
     * Roles from an attention mask and prompt lengths (SPEC section 8): attention 0 is IGNORE, the
     * first {@code p_b} attended tokens of row {@code b} are PROMPT, the other attended tokens
     * COMPLETION. Works for either padding side and for attention masks with holes.
     *
     * <pre>{@code
     * INDArray attention = Nd4j.createFromArray(new int[][] {{0, 0, 1, 1, 1}, {1, 1, 1, 1, 0}});
     * PromptCompletionMask mask = PromptCompletionMask.ofAttentionMask(attention, new int[] {1, 3});
     * // row 0: I I P C C    row 1: P P P C I
     * }</pre>
     *
     * @param attentionMask {@code [B, N]} of 0/1 (BOOL, an integer dtype, or integral floating point)
     * @param promptLengths {@code p_b} per row, {@code 0 <= p_b <=} the number of attended tokens of the row
     * @return the mask
     * @throws IllegalArgumentException if {@code attentionMask} is not rank 2 or holds a value other than
     *         0 and 1, {@code promptLengths.length != B}, or a prompt length is negative or exceeds the
     *         row's attended tokens
     * @throws NullPointerException if an argument is null
     */
    public static PromptCompletionMask ofAttentionMask(INDArray attentionMask, int[] promptLengths) {
        return of(MaskBuilders.attention(attentionMask, promptLengths));
    }

    /**
     * {@link #ofAttentionMask(INDArray, int[])} for a Java array, e.g. {@link PackedBatch#attentionMask()}.
     *
     * <pre>{@code
     * PromptCompletionMask mask = PromptCompletionMask.ofAttentionMask(
     *         new int[][] {{1, 1, 1, 0}}, new int[] {2}); // P P C I
     * }</pre>
     *
     * @param attentionMask {@code [B][N]} of 0/1, all rows the same length
     * @param promptLengths {@code p_b} per row
     * @return the mask
     * @throws IllegalArgumentException on ragged rows, a value other than 0/1, or a bad prompt length (as
     *         {@link #ofAttentionMask(INDArray, int[])})
     * @throws NullPointerException if an argument or a row is null
     */
    public static PromptCompletionMask ofAttentionMask(int[][] attentionMask, int[] promptLengths) {
        return of(MaskBuilders.attention(attentionMask, promptLengths));
    }

    /**
     * Roles from Hugging Face labels (SPEC section 8): where the attention mask is 0 the token is
     * IGNORE; otherwise a label equal to {@code ignoreIndex} (the prompt masked out by a collator) marks
     * PROMPT and any other label COMPLETION. Labels are aligned with input positions, as Hugging Face
     * models expect them (the model shifts). Use the loss's own ignore index for anything that must
     * not be measured at all.
     *
     * <pre>{@code
     * INDArray labels = Nd4j.createFromArray(new long[][] {{-100, -100, 17, 42, -100}});
     * INDArray attention = Nd4j.createFromArray(new long[][] {{1, 1, 1, 1, 0}});
     * PromptCompletionMask mask = PromptCompletionMask.ofHfLabels(labels, attention, -100);
     * // P P C C I
     * }</pre>
     *
     * @param labels {@code [B, N]} integral labels
     * @param attentionMask {@code [B, N]} of 0/1, or null when every token is attended
     * @param ignoreIndex the label value that marks a prompt token, usually {@code -100}
     * @return the mask
     * @throws IllegalArgumentException if an array is not rank 2, the shapes differ, a label is not
     *         integral, or the attention mask holds a value other than 0 and 1
     * @throws NullPointerException if {@code labels} is null
     */
    public static PromptCompletionMask ofHfLabels(INDArray labels, INDArray attentionMask, int ignoreIndex) {
        return of(MaskBuilders.hfLabels(labels, attentionMask, ignoreIndex));
    }

    /**
     * Roles from a response template, with every position attended: the same as
     * {@link #ofResponseTemplate(INDArray, INDArray, int[], int[])} with a null attention mask. Padding
     * after a completion would then count as COMPLETION: give the attention mask when rows are padded.
     *
     * <pre>{@code
     * // "### Answer:" tokenises to {835, 673}, "### Question:" to {835, 894}
     * PromptCompletionMask mask = PromptCompletionMask.ofResponseTemplate(
     *         inputIds, new int[] {835, 673}, new int[] {835, 894});
     * }</pre>
     *
     * @param inputIds {@code [B, N]} integral token ids
     * @param responseTemplate the token ids that open a response, at least one
     * @param instructionTemplateOrNull the token ids that open an instruction (a new user turn), or null
     * @return the mask; rows without the response template are all IGNORE and listed in {@link #reportedRows()}
     * @throws IllegalArgumentException as {@link #ofResponseTemplate(INDArray, INDArray, int[], int[])}
     * @throws NullPointerException if {@code inputIds} or {@code responseTemplate} is null
     */
    public static PromptCompletionMask ofResponseTemplate(INDArray inputIds, int[] responseTemplate,
            int[] instructionTemplateOrNull) {
        return ofResponseTemplate(inputIds, null, responseTemplate, instructionTemplateOrNull);
    }

    /**
     * Roles from a response template and an optional instruction template (SPEC section 8,
     * multi-turn). Each row is scanned left to right over its attended tokens, starting in the prompt:
     * <ul>
     * <li>where the response template occurs, its tokens are PROMPT and the tokens after it are
     *     COMPLETION;</li>
     * <li>where the instruction template occurs, its tokens are PROMPT and the tokens after it are
     *     PROMPT again;</li>
     * <li>without an instruction template, everything after the first response template is
     *     COMPLETION except further response templates (unlike TRL's completion-only collator, which
     *     then trains only after the <em>last</em> one: give the instruction template for multi-turn
     *     data);</li>
     * <li>a template matches only on attended positions; after a match the scan resumes after it (no
     *     overlapping matches); if both templates match at one position the longer one wins;</li>
     * <li>attention 0 is IGNORE and does not change the state;</li>
     * <li>a row in which the response template never occurs is all IGNORE, listed in
     *     {@link #reportedRows()} and logged once per call as a WARNING on the
     *     {@code System.Logger} named {@code org.plw4j.PromptCompletionMask}: it is never silently
     *     trained as prompt.</li>
     * </ul>
     *
     * <pre>{@code
     * // R = response template {7}, I = instruction template {5}; ids of one row:
     * //   5 11 12 7 21 22 5 13 7 23 0 0     (0 = padding, attention 0)
     * //   P  P  P P  C  C P  P P  C I I
     * PromptCompletionMask mask = PromptCompletionMask.ofResponseTemplate(
     *         inputIds, attentionMask, new int[] {7}, new int[] {5});
     * }</pre>
     *
     * @param inputIds {@code [B, N]} integral token ids
     * @param attentionMaskOrNull {@code [B, N]} of 0/1, or null when every token is attended
     * @param responseTemplate the token ids that open a response, at least one
     * @param instructionTemplateOrNull the token ids that open an instruction, or null; when given, at
     *        least one id and different from the response template
     * @return the mask; rows without the response template are all IGNORE and listed in {@link #reportedRows()}
     * @throws IllegalArgumentException if a template is empty, the two templates are equal, an array is
     *         not rank 2, the shapes differ, an id is not integral, or the attention mask holds a value
     *         other than 0 and 1
     * @throws NullPointerException if {@code inputIds} or {@code responseTemplate} is null
     */
    public static PromptCompletionMask ofResponseTemplate(INDArray inputIds, INDArray attentionMaskOrNull,
            int[] responseTemplate, int[] instructionTemplateOrNull) {
        MaskBuilders.Roles r = MaskBuilders.responseTemplate(inputIds, attentionMaskOrNull, responseTemplate,
                instructionTemplateOrNull);
        int[] missing = r.reportedRows();
        if (missing.length > 0) {
            LOG.log(System.Logger.Level.WARNING, () -> String.format(Locale.ROOT,
                    "ofResponseTemplate: response template %s not found in %d of %d rows %s; "
                            + "those rows are all IGNORE (see PromptCompletionMask.reportedRows())",
                    Arrays.toString(responseTemplate), missing.length, r.batch(), MaskBuilders.rowList(missing)));
        }
        return of(r);
    }

    /**
     * Roles from chat turns (SPEC section 8): each row is a list of {@link RoleSegment}s laid end to
     * end; the tokens of a segment whose role is in {@code trainedRoles} are COMPLETION, the others
     * PROMPT, the rest of the row IGNORE (after the segments for {@link Padding#RIGHT}, before them
     * for {@link Padding#LEFT}). Role names compare exactly (case-sensitive). An empty
     * {@code trainedRoles} makes every token PROMPT.
     *
     * <pre>{@code
     * List<List<RoleSegment>> rows = List.of(List.of(
     *         RoleSegment.of("system", 2), RoleSegment.of("user", 2), RoleSegment.of("assistant", 2),
     *         RoleSegment.of("user", 1), RoleSegment.of("assistant", 2)));
     * PromptCompletionMask mask = PromptCompletionMask.ofRoleSegments(rows, 10, Padding.RIGHT,
     *         Set.of("assistant"));
     * // P P P P C C P C C I
     * }</pre>
     *
     * @param segments per row, the segments in order
     * @param maxLength {@code N}, {@code >= 1}
     * @param side where the padding is
     * @param trainedRoles the roles whose tokens are COMPLETION, typically {@code Set.of("assistant")}
     * @return the mask, {@code [segments.size(), N]}
     * @throws IllegalArgumentException if {@code maxLength < 1}, a row or segment is null, or a row's
     *         segments span more than {@code N} tokens
     * @throws NullPointerException if an argument is null
     */
    public static PromptCompletionMask ofRoleSegments(List<? extends List<RoleSegment>> segments, int maxLength,
            Padding side, Set<String> trainedRoles) {
        return of(MaskBuilders.roleSegments(segments, maxLength, side, trainedRoles));
    }

    /**
     * {@link #ofRoleSegments(List, int, Padding, Set)} with the roles and lengths in parallel arrays.
     *
     * <pre>{@code
     * PromptCompletionMask mask = PromptCompletionMask.ofRoleSegments(
     *         new String[][] {{"user", "assistant"}}, new int[][] {{3, 2}}, 6, Padding.LEFT,
     *         Set.of("assistant"));
     * // I P P P C C
     * }</pre>
     *
     * @param roles {@code roles[b][s]}, the role of segment {@code s} of row {@code b}
     * @param lengths {@code lengths[b][s]}, its token count, {@code >= 0}
     * @param maxLength {@code N}, {@code >= 1}
     * @param side where the padding is
     * @param trainedRoles the roles whose tokens are COMPLETION
     * @return the mask
     * @throws IllegalArgumentException if the arrays differ in shape, an entry is null, a length is
     *         negative, or a row spans more than {@code N} tokens
     * @throws NullPointerException if an argument is null
     */
    public static PromptCompletionMask ofRoleSegments(String[][] roles, int[][] lengths, int maxLength, Padding side,
            Set<String> trainedRoles) {
        return of(MaskBuilders.roleSegments(roles, lengths, maxLength, side, trainedRoles));
    }

    /**
     * Roles from character offsets (SPEC section 8; the chat-template-agnostic method of the "Prompt
     * Loss Weight" article, without its off-by-one). Render the chat to text, let {@code c} be the
     * character length of the rendered prompt, tokenise with offsets; then a token whose offsets
     * {@code [start, end)} satisfy {@code end <= c} is PROMPT (a token ending exactly at the boundary
     * holds only prompt text) and any other token COMPLETION (a token straddling the boundary holds
     * completion text). A special token with empty offsets ({@code start == end}, e.g. Hugging Face's
     * {@code (0, 0)} for BOS/EOS) takes the role of the attended token before it, PROMPT if there is
     * none, so an EOS after the answer is trained. Attention 0 is IGNORE.
     *
     * <pre>{@code
     * // text "Q: hi\nA: yo" with c = 6 (the prompt "Q: hi\n")
     * // tokens: BOS(0,0) "Q:"(0,2) " hi"(2,5) "\n"(5,6) "A:"(6,8) " yo"(8,11) EOS(0,0)
     * //          P        P        P         P        C        C         C
     * PromptCompletionMask mask = PromptCompletionMask.ofCharOffsets(offsets, attentionMask, new int[] {6});
     * }</pre>
     *
     * @param offsets {@code [B, N, 2]} integral (start, end) character offsets per token, {@code 0 <= start <= end}
     *        where attended
     * @param attentionMaskOrNull {@code [B, N]} of 0/1, or null when every token is attended; offsets
     *        of unattended tokens are not read
     * @param promptChars {@code c_b} per row, {@code >= 0}
     * @return the mask
     * @throws IllegalArgumentException if {@code offsets} is not {@code [B, N, 2]}, the attention mask
     *         does not match it or holds a value other than 0/1, {@code promptChars.length != B}, or an
     *         attended token has a negative start, an end before its start, or a negative {@code c_b}
     * @throws NullPointerException if {@code offsets} or {@code promptChars} is null
     */
    public static PromptCompletionMask ofCharOffsets(INDArray offsets, INDArray attentionMaskOrNull,
            int[] promptChars) {
        return of(MaskBuilders.charOffsets(offsets, attentionMaskOrNull, promptChars));
    }

    /**
     * {@link #ofCharOffsets(INDArray, INDArray, int[])} for unpadded rows given as Java arrays (for
     * example from a tokenizer's per-token character spans): row {@code b} holds
     * {@code tokenStarts[b].length} tokens, placed in a row of {@code N} positions on the given padding
     * side, the padding IGNORE.
     *
     * <pre>{@code
     * PromptCompletionMask mask = PromptCompletionMask.ofCharOffsets(
     *         new int[][] {{0, 0, 2, 5, 6, 8, 0}}, new int[][] {{0, 2, 5, 6, 8, 11, 0}},
     *         new int[] {6}, 8, Padding.RIGHT);
     * // P P P P C C C I
     * }</pre>
     *
     * @param tokenStarts per row, the start offset of each token
     * @param tokenEnds per row, the end offset of each token (exclusive), same lengths as {@code tokenStarts}
     * @param promptChars {@code c_b} per row, {@code >= 0}
     * @param maxLength {@code N}, {@code >= 1}
     * @param side where the padding is
     * @return the mask
     * @throws IllegalArgumentException if the arrays disagree in length, a row has more than {@code N}
     *         tokens, an offset is negative, an end precedes its start, or {@code c_b < 0}
     * @throws NullPointerException if an argument is null
     */
    public static PromptCompletionMask ofCharOffsets(int[][] tokenStarts, int[][] tokenEnds, int[] promptChars,
            int maxLength, Padding side) {
        return of(MaskBuilders.charOffsets(tokenStarts, tokenEnds, promptChars, maxLength, side));
    }

    /**
     * Roles of packed rows (SPEC section 8): several examples laid end to end in one row of {@code N}
     * positions, the rest IGNORE. Within each example the first {@code promptLen} tokens are PROMPT and
     * the next {@code completionLen} COMPLETION, except that the <em>first token of every example is
     * IGNORE</em>: under the loss's shift it would be predicted from the previous example's last token,
     * so no token is ever predicted across an example boundary. (The model must also not attend across
     * examples: use {@link SequencePacker}'s position and segment ids.)
     *
     * <p>An example is {@code {promptLen, completionLen}}, starting where the previous example of its
     * row ends (at 0 for the first), or {@code {start, promptLen, completionLen}} at an explicit start;
     * a gap between examples is IGNORE. {@link PackedBatch#examplesPerRow()} gives this array for rows
     * made by {@link SequencePacker}.
     *
     * <pre>{@code
     * // N = 8: one row holding (prompt 2, completion 2) and then (prompt 1, completion 2)
     * PromptCompletionMask mask = PromptCompletionMask.ofPacked(new int[][][] {{{2, 2}, {1, 2}}}, 8);
     * // I P C C I C C I
     * }</pre>
     *
     * @param examplesPerRow {@code [B][examples][2 or 3]}
     * @param maxLength {@code N}, {@code >= 1}
     * @return the mask
     * @throws IllegalArgumentException if {@code maxLength < 1}, an entry does not have 2 or 3 elements,
     *         a length or start is negative, an example has no token, an example starts before the
     *         previous one ends (overlap), or an example ends past {@code N} (overflow)
     * @throws NullPointerException if {@code examplesPerRow} is null
     */
    public static PromptCompletionMask ofPacked(int[][][] examplesPerRow, int maxLength) {
        return of(MaskBuilders.packed(examplesPerRow, maxLength));
    }

    /** @return B */
    public int batchSize() {
        return batch;
    }

    /** @return N */
    public int sequenceLength() {
        return length;
    }

    /** @return whether roles are known (false for {@link #ofWeights(INDArray)} without roles) */
    public boolean hasRoles() {
        return roles != null;
    }

    /** @return whether explicit weights replace the PLW */
    public boolean hasWeights() {
        return weights != null;
    }

    /**
     * @param b row
     * @param t position
     * @return the role of input position {@code (b, t)}
     * @throws IllegalStateException if the mask holds only weights
     */
    public TokenRole role(int b, int t) {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        Objects.checkIndex(b, batch);
        Objects.checkIndex(t, length);
        return TokenRole.ofCode(roles[b * length + t]);
    }

    /**
     * @return a new {@code [B, N]} INT array of role codes (0 IGNORE, 1 PROMPT, 2 COMPLETION)
     * @throws IllegalStateException if the mask holds only weights
     */
    @SuppressWarnings("deprecation") // DataType.INT is the 32-bit integer type ND4J's natives use
    public INDArray roles() {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        if (roles.length == 0) {
            return Nd4j.create(DataType.INT, batch, length);
        }
        return Nd4j.createFromArray(rolesAsInts());
    }

    /** @return a copy of the roles as {@code int[B][N]} codes */
    public int[][] rolesAsInts() {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        int[][] out = new int[batch][length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                out[b][t] = roles[b * length + t];
            }
        }
        return out;
    }

    /** @return a new {@code [B, N]} DOUBLE array of the explicit weights, or null if none */
    public INDArray weights() {
        return weights == null ? null : Nd4j.createFromArray(weights.clone()).reshape(batch, length);
    }

    /**
     * Rows that the builder reported: for {@code ofResponseTemplate} the rows in which the response
     * template was not found (they are all IGNORE, so they are never silently trained).
     *
     * @return the row indices, ascending (a copy)
     */
    public int[] reportedRows() {
        return reportedRows.clone();
    }

    /** @return the number of PROMPT input positions */
    public long promptCount() {
        return count(TokenRole.PROMPT_CODE);
    }

    /** @return the number of COMPLETION input positions */
    public long completionCount() {
        return count(TokenRole.COMPLETION_CODE);
    }

    private long count(byte code) {
        if (roles == null) {
            return 0;
        }
        long c = 0;
        for (byte r : roles) {
            if (r == code) {
                c++;
            }
        }
        return c;
    }

    byte[] roleCodes() {
        return roles;
    }

    double[] weightValues() {
        return weights;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PromptCompletionMask m && batch == m.batch && length == m.length
                && Arrays.equals(roles, m.roles) && Arrays.equals(weights, m.weights)
                && Arrays.equals(reportedRows, m.reportedRows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(batch, length, Arrays.hashCode(roles), Arrays.hashCode(weights));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "PromptCompletionMask[B=%d, N=%d, prompt=%d, completion=%d%s]",
                batch, length, promptCount(), completionCount(), weights != null ? ", explicit weights" : "");
    }
}
