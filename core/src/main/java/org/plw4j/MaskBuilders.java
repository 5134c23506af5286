package org.plw4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.plw4j.TokenRole.COMPLETION_CODE;
import static org.plw4j.TokenRole.IGNORE_CODE;
import static org.plw4j.TokenRole.PROMPT_CODE;

/**
 * The rules of SPEC section 8 and the checks of every mask input, behind the static factories of
 * {@code PromptCompletionMask} (which depends on this class, never the other way round). Every builder
 * validates its whole input first and only then allocates and fills the role codes ({@code [B*N]},
 * row-major, codes of {@link TokenRole}).
 */
final class MaskBuilders {
    /** How many reported rows a log line lists before it abbreviates. */
    private static final int LOG_ROWS = 20;

    private MaskBuilders() {
    }

    /**
     * What a builder made: {@code [B*N]} role codes, row-major, and the rows it reports (ascending; for
     * the response template, the rows in which it was not found).
     */
    record Roles(int batch, int length, byte[] codes, int[] reportedRows) {
        Roles(int batch, int length, byte[] codes) {
            this(batch, length, codes, new int[0]);
        }
    }

    static IllegalArgumentException iae(String format, Object... args) {
        return new IllegalArgumentException(String.format(Locale.ROOT, format, args));
    }

    static void checkMaxLength(int maxLength) {
        if (maxLength < 1) {
            throw iae("maxLength must be >= 1, was %d", maxLength);
        }
    }

    static void checkRowCount(int expected, int actual, String what, String param) {
        if (expected != actual) {
            throw iae("%s must have one entry per row (%s = %d), had %d", param, what, expected, actual);
        }
    }

    static void requireRank2(INDArray a, String param) {
        if (a.rank() != 2) {
            throw iae("%s must have rank 2 [B, N], had rank %d with shape %s", param, a.rank(), Nd4jArrays.shape(a));
        }
    }

    /** Checks that every value is a role code and narrows them to bytes. */
    private static byte[] roleCodes(long[] values, long[] shape, String param) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            long c = values[i];
            if (!TokenRole.isCode(c)) {
                throw iae("%s must hold role codes %s, element %s was %d",
                        param, TokenRole.CODES, Nd4jArrays.index(shape, i), c);
            }
            out[i] = (byte) c;
        }
        return out;
    }

    /** Offset of the first token of a row holding {@code n} tokens. */
    private static int start(Padding side, int maxLength, int n) {
        return side == Padding.LEFT ? maxLength - n : 0;
    }

    // ------------------------------------------------------------------ role codes and explicit weights

    static Roles roles(INDArray roles) {
        Objects.requireNonNull(roles, "roles");
        requireRank2(roles, "roles");
        long[] codes = Nd4jArrays.integral(roles, "roles");
        return new Roles((int) roles.size(0), (int) roles.size(1), roleCodes(codes, roles.shape(), "roles"));
    }

    static Roles roles(int[][] roles) {
        long[] flat = flatten(roles, "roles");
        int b = roles.length;
        int n = b == 0 ? 0 : roles[0].length;
        return new Roles(b, n, roleCodes(flat, new long[] {b, n}, "roles"));
    }

    /** Reads {@code [B, N]} explicit weights, each finite and {@code >= 0}. */
    static double[] weights(INDArray weights) {
        Objects.requireNonNull(weights, "weights");
        requireRank2(weights, "weights");
        double[] w = Nd4jArrays.doubles(weights, "weights");
        long[] shape = weights.shape();
        for (int i = 0; i < w.length; i++) {
            double x = w[i];
            if (!(x >= 0 && x < Double.POSITIVE_INFINITY)) {
                throw iae("weights must be finite and >= 0, element %s was %s", Nd4jArrays.index(shape, i), x);
            }
        }
        return w;
    }

    // ------------------------------------------------------------------ prompt lengths

    static Roles promptLengths(int[] promptLengths, int[] sequenceLengths, int maxLength,
            Padding side) {
        Objects.requireNonNull(promptLengths, "promptLengths");
        Objects.requireNonNull(sequenceLengths, "sequenceLengths");
        Objects.requireNonNull(side, "side");
        checkMaxLength(maxLength);
        int b = promptLengths.length;
        checkRowCount(b, sequenceLengths.length, "promptLengths.length", "sequenceLengths");
        for (int r = 0; r < b; r++) {
            int p = promptLengths[r];
            int n = sequenceLengths[r];
            if (n < 0) {
                throw iae("row %d: sequenceLengths[%d] must be >= 0, was %d", r, r, n);
            }
            if (n > maxLength) {
                throw iae("row %d: sequenceLengths[%d] = %d exceeds maxLength = %d", r, r, n, maxLength);
            }
            if (p < 0) {
                throw iae("row %d: promptLengths[%d] must be >= 0, was %d", r, r, p);
            }
            if (p > n) {
                throw iae("row %d: promptLengths[%d] = %d exceeds sequenceLengths[%d] = %d", r, r, p, r, n);
            }
        }
        byte[] roles = new byte[Math.multiplyExact(b, maxLength)];
        for (int r = 0; r < b; r++) {
            int base = r * maxLength + start(side, maxLength, sequenceLengths[r]);
            Arrays.fill(roles, base, base + promptLengths[r], PROMPT_CODE);
            Arrays.fill(roles, base + promptLengths[r], base + sequenceLengths[r], COMPLETION_CODE);
        }
        return new Roles(b, maxLength, roles);
    }

    // ------------------------------------------------------------------ attention mask + prompt lengths

    /** Reads a {@code [B, N]} 0/1 mask (BOOL, any integer dtype, or integral floating point). */
    @SuppressWarnings("deprecation") // DataType.INT is the 32-bit integer type ND4J's natives use
    private static long[] binaryMask(INDArray mask, String param) {
        requireRank2(mask, param);
        INDArray m = mask.dataType() == DataType.BOOL ? mask.castTo(DataType.INT) : mask;
        long[] v = Nd4jArrays.integral(m, param);
        checkBinary(v, mask.shape(), param);
        return v;
    }

    /**
     * Reads an optional {@code [B, N]} 0/1 attention mask that must have the shape of {@code reference}.
     *
     * @param reference the rank-2 array the mask goes with
     * @param referenceName its parameter name, for the message
     * @param attentionMask the mask, or null
     * @return the mask's values, or null without a mask
     * @throws IllegalArgumentException if the mask is not rank 2, has another shape or holds a value other than 0/1
     */
    private static long[] attentionLike(INDArray reference, String referenceName, INDArray attentionMask) {
        if (attentionMask == null) {
            return null;
        }
        requireRank2(attentionMask, "attentionMask");
        if (!Arrays.equals(reference.shape(), attentionMask.shape())) {
            throw iae("%s and attentionMask must have the same shape [B, N], were %s and %s",
                    referenceName, Nd4jArrays.shape(reference), Nd4jArrays.shape(attentionMask));
        }
        return binaryMask(attentionMask, "attentionMask");
    }

    private static void checkBinary(long[] v, long[] shape, String param) {
        for (int i = 0; i < v.length; i++) {
            if (v[i] != 0 && v[i] != 1) {
                throw iae("%s must hold 0 or 1, element %s was %d", param, Nd4jArrays.index(shape, i), v[i]);
            }
        }
    }

    private static long[] flatten(int[][] rows, String param) {
        Objects.requireNonNull(rows, param);
        int b = rows.length;
        int n = b == 0 ? 0 : Objects.requireNonNull(rows[0], param + "[0]").length;
        long[] flat = new long[Math.multiplyExact(b, n)];
        for (int r = 0; r < b; r++) {
            Objects.requireNonNull(rows[r], param + "[" + r + "]");
            if (rows[r].length != n) {
                throw iae("%s rows must all have length %d, row %d had %d", param, n, r, rows[r].length);
            }
            for (int t = 0; t < n; t++) {
                flat[r * n + t] = rows[r][t];
            }
        }
        return flat;
    }

    static Roles attention(INDArray attentionMask, int[] promptLengths) {
        Objects.requireNonNull(attentionMask, "attentionMask");
        long[] att = binaryMask(attentionMask, "attentionMask");
        return attention(att, (int) attentionMask.size(0), (int) attentionMask.size(1), promptLengths);
    }

    static Roles attention(int[][] attentionMask, int[] promptLengths) {
        long[] att = flatten(attentionMask, "attentionMask");
        int b = attentionMask.length;
        int n = b == 0 ? 0 : attentionMask[0].length;
        checkBinary(att, new long[] {b, n}, "attentionMask");
        return attention(att, b, n, promptLengths);
    }

    private static Roles attention(long[] attention, int b, int n, int[] promptLengths) {
        Objects.requireNonNull(promptLengths, "promptLengths");
        checkRowCount(b, promptLengths.length, "attentionMask rows", "promptLengths");
        for (int r = 0; r < b; r++) {
            int p = promptLengths[r];
            if (p < 0) {
                throw iae("row %d: promptLengths[%d] must be >= 0, was %d", r, r, p);
            }
            int attended = 0;
            for (int t = 0; t < n; t++) {
                attended += (int) attention[r * n + t];
            }
            if (p > attended) {
                throw iae("row %d: promptLengths[%d] = %d exceeds the %d attended tokens of the row",
                        r, r, p, attended);
            }
        }
        byte[] roles = new byte[Math.multiplyExact(b, n)];
        for (int r = 0; r < b; r++) {
            int seen = 0;
            for (int t = 0; t < n; t++) {
                int i = r * n + t;
                if (attention[i] != 0) {
                    roles[i] = seen < promptLengths[r] ? PROMPT_CODE : COMPLETION_CODE;
                    seen++;
                }
            }
        }
        return new Roles(b, n, roles);
    }

    // ------------------------------------------------------------------ Hugging Face labels

    static Roles hfLabels(INDArray labels, INDArray attentionMask, int ignoreIndex) {
        Objects.requireNonNull(labels, "labels");
        requireRank2(labels, "labels");
        long[] lab = Nd4jArrays.integral(labels, "labels");
        long[] att = attentionLike(labels, "labels", attentionMask);
        int b = (int) labels.size(0);
        int n = (int) labels.size(1);
        byte[] roles = new byte[lab.length];
        for (int i = 0; i < lab.length; i++) {
            if (att != null && att[i] == 0) {
                roles[i] = IGNORE_CODE;
            } else {
                roles[i] = lab[i] == ignoreIndex ? PROMPT_CODE : COMPLETION_CODE;
            }
        }
        return new Roles(b, n, roles);
    }

    // ------------------------------------------------------------------ response / instruction template

    static Roles responseTemplate(INDArray inputIds, INDArray attentionMask, int[] response,
            int[] instruction) {
        Objects.requireNonNull(inputIds, "inputIds");
        Objects.requireNonNull(response, "responseTemplate");
        requireRank2(inputIds, "inputIds");
        if (response.length == 0) {
            throw iae("responseTemplate must hold at least one token id, was empty");
        }
        if (instruction != null) {
            if (instruction.length == 0) {
                throw iae("instructionTemplate must be null or hold at least one token id, was empty");
            }
            if (Arrays.equals(response, instruction)) {
                throw iae("responseTemplate and instructionTemplate must differ, both were %s",
                        Arrays.toString(response));
            }
        }
        long[] att = attentionLike(inputIds, "inputIds", attentionMask);
        long[] ids = Nd4jArrays.integral(inputIds, "inputIds");
        int b = (int) inputIds.size(0);
        int n = (int) inputIds.size(1);
        byte[] roles = new byte[ids.length];
        int[] missing = new int[b];
        int nMissing = 0;
        for (int r = 0; r < b; r++) {
            int base = r * n;
            boolean found = false;
            boolean completion = false;
            int t = 0;
            while (t < n) {
                if (att != null && att[base + t] == 0) {
                    t++; // IGNORE, and the state carries over the hole
                    continue;
                }
                int rl = matches(ids, att, base, n, t, response) ? response.length : 0;
                int il = instruction != null && matches(ids, att, base, n, t, instruction) ? instruction.length : 0;
                if (rl > 0 && rl >= il) {
                    Arrays.fill(roles, base + t, base + t + rl, PROMPT_CODE);
                    completion = true;
                    found = true;
                    t += rl;
                } else if (il > 0) {
                    Arrays.fill(roles, base + t, base + t + il, PROMPT_CODE);
                    completion = false;
                    t += il;
                } else {
                    roles[base + t] = completion ? COMPLETION_CODE : PROMPT_CODE;
                    t++;
                }
            }
            if (!found) {
                Arrays.fill(roles, base, base + n, IGNORE_CODE);
                missing[nMissing++] = r;
            }
        }
        return new Roles(b, n, roles, Arrays.copyOf(missing, nMissing));
    }

    private static boolean matches(long[] ids, long[] att, int base, int n, int t, int[] tpl) {
        if (t + tpl.length > n) {
            return false;
        }
        for (int j = 0; j < tpl.length; j++) {
            int i = base + t + j;
            if (ids[i] != tpl[j] || (att != null && att[i] == 0)) {
                return false;
            }
        }
        return true;
    }

    static String rowList(int[] rows) {
        if (rows.length <= LOG_ROWS) {
            return Arrays.toString(rows);
        }
        return Arrays.toString(Arrays.copyOf(rows, LOG_ROWS)).replace("]", ", ...]");
    }

    // ------------------------------------------------------------------ chat role segments

    static Roles roleSegments(List<? extends List<RoleSegment>> rows, int maxLength,
            Padding side, Set<String> trainedRoles) {
        Objects.requireNonNull(rows, "segments");
        Objects.requireNonNull(side, "side");
        Objects.requireNonNull(trainedRoles, "trainedRoles");
        checkMaxLength(maxLength);
        int b = rows.size();
        int[] total = new int[b];
        for (int r = 0; r < b; r++) {
            List<RoleSegment> row = rows.get(r);
            if (row == null) {
                throw iae("row %d: segments must not be null", r);
            }
            long sum = 0;
            for (int s = 0; s < row.size(); s++) {
                RoleSegment seg = row.get(s);
                if (seg == null) {
                    throw iae("row %d: segment %d must not be null", r, s);
                }
                sum += seg.length();
            }
            if (sum > maxLength) {
                throw iae("row %d: segments %s span %d tokens, more than maxLength = %d", r, row, sum, maxLength);
            }
            total[r] = (int) sum;
        }
        byte[] roles = new byte[Math.multiplyExact(b, maxLength)];
        for (int r = 0; r < b; r++) {
            int pos = r * maxLength + start(side, maxLength, total[r]);
            for (RoleSegment seg : rows.get(r)) {
                byte code = trainedRoles.contains(seg.role()) ? COMPLETION_CODE : PROMPT_CODE;
                Arrays.fill(roles, pos, pos + seg.length(), code);
                pos += seg.length();
            }
        }
        return new Roles(b, maxLength, roles);
    }

    static Roles roleSegments(String[][] roleNames, int[][] lengths, int maxLength, Padding side,
            Set<String> trainedRoles) {
        Objects.requireNonNull(roleNames, "roles");
        Objects.requireNonNull(lengths, "lengths");
        checkRowCount(roleNames.length, lengths.length, "roles.length", "lengths");
        RoleSegment[][] rows = new RoleSegment[roleNames.length][];
        for (int r = 0; r < roleNames.length; r++) {
            if (roleNames[r] == null || lengths[r] == null) {
                throw iae("row %d: roles[%d] and lengths[%d] must not be null", r, r, r);
            }
            if (roleNames[r].length != lengths[r].length) {
                throw iae("row %d: roles[%d] has %d segments but lengths[%d] has %d",
                        r, r, roleNames[r].length, r, lengths[r].length);
            }
            rows[r] = new RoleSegment[lengths[r].length];
            for (int s = 0; s < lengths[r].length; s++) {
                if (roleNames[r][s] == null) {
                    throw iae("row %d: roles[%d][%d] must not be null", r, r, s);
                }
                if (lengths[r][s] < 0) {
                    throw iae("row %d: lengths[%d][%d] must be >= 0, was %d (role \"%s\")",
                            r, r, s, lengths[r][s], roleNames[r][s]);
                }
                rows[r][s] = RoleSegment.of(roleNames[r][s], lengths[r][s]);
            }
        }
        List<List<RoleSegment>> list = new ArrayList<>(rows.length);
        for (RoleSegment[] row : rows) {
            list.add(Arrays.asList(row));
        }
        return roleSegments(list, maxLength, side, trainedRoles);
    }

    // ------------------------------------------------------------------ character offsets

    /**
     * The role of each token of one row from its offsets: PROMPT when {@code end <= c}, COMPLETION
     * otherwise; a token with {@code start == end} takes the role of the token before it (PROMPT when
     * it is the first token).
     */
    private static void charRow(int[] starts, int[] ends, int count, int c, byte[] out, int[] positions) {
        byte prev = PROMPT_CODE;
        for (int k = 0; k < count; k++) {
            byte role;
            if (starts[k] == ends[k]) {
                role = prev;
            } else {
                role = ends[k] <= c ? PROMPT_CODE : COMPLETION_CODE;
            }
            out[positions[k]] = role;
            prev = role;
        }
    }

    private static void checkOffset(int r, String where, long start, long end) {
        if (start < 0) {
            throw iae("row %d: token %s start offset must be >= 0, was %d", r, where, start);
        }
        if (end < start) {
            throw iae("row %d: token %s end offset %d is before its start offset %d", r, where, end, start);
        }
        if (end > Integer.MAX_VALUE) {
            throw iae("row %d: token %s end offset %d exceeds %d", r, where, end, Integer.MAX_VALUE);
        }
    }

    private static void checkPromptChars(int[] promptChars, int r) {
        if (promptChars[r] < 0) {
            throw iae("row %d: promptChars[%d] must be >= 0, was %d", r, r, promptChars[r]);
        }
    }

    static Roles charOffsets(INDArray offsets, INDArray attentionMask, int[] promptChars) {
        Objects.requireNonNull(offsets, "offsets");
        Objects.requireNonNull(promptChars, "promptChars");
        if (offsets.rank() != 3 || offsets.size(2) != 2) {
            throw iae("offsets must have shape [B, N, 2] (start, end per token), had shape %s",
                    Nd4jArrays.shape(offsets));
        }
        int b = (int) offsets.size(0);
        int n = (int) offsets.size(1);
        long[] att = null;
        if (attentionMask != null) {
            requireRank2(attentionMask, "attentionMask");
            if (attentionMask.size(0) != b || attentionMask.size(1) != n) {
                throw iae("attentionMask must have shape [B, N] = [%d, %d] to match offsets, had %s",
                        b, n, Nd4jArrays.shape(attentionMask));
            }
            att = binaryMask(attentionMask, "attentionMask");
        }
        checkRowCount(b, promptChars.length, "offsets rows", "promptChars");
        long[] off = Nd4jArrays.integral(offsets, "offsets");
        for (int r = 0; r < b; r++) {
            checkPromptChars(promptChars, r);
            for (int t = 0; t < n; t++) {
                if (att == null || att[r * n + t] != 0) {
                    int i = 2 * (r * n + t);
                    checkOffset(r, "at position " + t, off[i], off[i + 1]);
                }
            }
        }
        byte[] roles = new byte[Math.multiplyExact(b, n)];
        int[] starts = new int[n];
        int[] ends = new int[n];
        int[] positions = new int[n];
        for (int r = 0; r < b; r++) {
            int count = 0;
            for (int t = 0; t < n; t++) {
                int i = r * n + t;
                if (att == null || att[i] != 0) {
                    starts[count] = (int) off[2 * i];
                    ends[count] = (int) off[2 * i + 1];
                    positions[count++] = i;
                }
            }
            charRow(starts, ends, count, promptChars[r], roles, positions);
        }
        return new Roles(b, n, roles);
    }

    static Roles charOffsets(int[][] tokenStarts, int[][] tokenEnds, int[] promptChars, int maxLength,
            Padding side) {
        Objects.requireNonNull(tokenStarts, "tokenStarts");
        Objects.requireNonNull(tokenEnds, "tokenEnds");
        Objects.requireNonNull(promptChars, "promptChars");
        Objects.requireNonNull(side, "side");
        checkMaxLength(maxLength);
        int b = tokenStarts.length;
        checkRowCount(b, tokenEnds.length, "tokenStarts.length", "tokenEnds");
        checkRowCount(b, promptChars.length, "tokenStarts.length", "promptChars");
        for (int r = 0; r < b; r++) {
            if (tokenStarts[r] == null || tokenEnds[r] == null) {
                throw iae("row %d: tokenStarts[%d] and tokenEnds[%d] must not be null", r, r, r);
            }
            int len = tokenStarts[r].length;
            if (tokenEnds[r].length != len) {
                throw iae("row %d: tokenStarts[%d] has %d tokens but tokenEnds[%d] has %d",
                        r, r, len, r, tokenEnds[r].length);
            }
            if (len > maxLength) {
                throw iae("row %d: %d tokens exceed maxLength = %d", r, len, maxLength);
            }
            checkPromptChars(promptChars, r);
            for (int k = 0; k < len; k++) {
                checkOffset(r, String.valueOf(k), tokenStarts[r][k], tokenEnds[r][k]);
            }
        }
        byte[] roles = new byte[Math.multiplyExact(b, maxLength)];
        int[] positions = new int[maxLength];
        for (int r = 0; r < b; r++) {
            int len = tokenStarts[r].length;
            int base = r * maxLength + start(side, maxLength, len);
            for (int k = 0; k < len; k++) {
                positions[k] = base + k;
            }
            charRow(tokenStarts[r], tokenEnds[r], len, promptChars[r], roles, positions);
        }
        return new Roles(b, maxLength, roles);
    }

    // ------------------------------------------------------------------ packed rows

    static Roles packed(int[][][] examplesPerRow, int maxLength) {
        Objects.requireNonNull(examplesPerRow, "examplesPerRow");
        checkMaxLength(maxLength);
        int b = examplesPerRow.length;
        for (int r = 0; r < b; r++) {
            int[][] row = examplesPerRow[r];
            if (row == null) {
                throw iae("row %d: examplesPerRow[%d] must not be null", r, r);
            }
            long end = 0; // end of the previous example
            for (int e = 0; e < row.length; e++) {
                int[] ex = row[e];
                if (ex == null || (ex.length != 2 && ex.length != 3)) {
                    throw iae("row %d, example %d: must be {promptLen, completionLen} or {start, promptLen, "
                            + "completionLen}, was %s", r, e, ex == null ? "null" : Arrays.toString(ex));
                }
                long startAt = ex.length == 3 ? ex[0] : end;
                int p = ex[ex.length - 2];
                int c = ex[ex.length - 1];
                if (startAt < 0) {
                    throw iae("row %d, example %d: start must be >= 0, was %d", r, e, startAt);
                }
                if (p < 0 || c < 0) {
                    throw iae("row %d, example %d: promptLen and completionLen must be >= 0, were %d and %d",
                            r, e, p, c);
                }
                if (p + (long) c == 0) {
                    throw iae("row %d, example %d: an example must hold at least one token, "
                            + "promptLen and completionLen were 0 and 0", r, e);
                }
                if (startAt < end) {
                    throw iae("row %d, example %d: starts at %d, overlapping the previous example, which ends at %d",
                            r, e, startAt, end);
                }
                long exEnd = startAt + p + (long) c;
                if (exEnd > maxLength) {
                    throw iae("row %d, example %d: spans [%d, %d) (promptLen %d, completionLen %d), "
                            + "past maxLength = %d", r, e, startAt, exEnd, p, c, maxLength);
                }
                end = exEnd;
            }
        }
        byte[] roles = new byte[Math.multiplyExact(b, maxLength)];
        for (int r = 0; r < b; r++) {
            int end = 0;
            for (int[] ex : examplesPerRow[r]) {
                int s = r * maxLength + (ex.length == 3 ? ex[0] : end);
                int p = ex[ex.length - 2];
                int c = ex[ex.length - 1];
                Arrays.fill(roles, s, s + p, PROMPT_CODE);
                Arrays.fill(roles, s + p, s + p + c, COMPLETION_CODE);
                roles[s] = IGNORE_CODE; // never predict an example's first token from the previous example
                end = s - r * maxLength + p + c;
            }
        }
        return new Roles(b, maxLength, roles);
    }
}
