package org.plw4j.examples;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;

/**
 * The article's way of counting prompt and completion tokens: render the whole conversation with the
 * chat template, find where each trained turn's text starts (the conversation before it rendered with
 * the generation prompt, or without it when that is not how the turn starts, as for a trained role other
 * than the assistant's) and ends (the conversation up to it rendered), tokenize the rendered text once,
 * and give each token a role from its character offsets by the rule of
 * {@link PromptCompletionMask#ofCharOffsets(int[][], int[][], int[], int, Padding)}.
 *
 * <p>Rendering with jinjava costs tens of microseconds per call, more than tokenizing a typical
 * example, and a conversation of {@code T} trained turns needs {@code 2T + 1} renderings. So each
 * <em>shape</em> of conversation (its sequence of roles) is rendered once with placeholder contents,
 * which gives the template's literal text around each content and whether the template trims it
 * (rendered a second time with whitespace around the placeholders); an example of that shape is then
 * assembled from those pieces. The first {@value #VERIFIED_PER_SHAPE} examples of every shape, then the
 * {@value #CHECK_EVERY}th after them, and after each check that agrees one twice as far on (up to one in
 * {@value #MAX_CHECK_EVERY}), are also rendered by jinjava and compared; a shape whose pieces
 * ever differ is rendered by jinjava from then on and the disagreement is counted ({@link #mismatches()}),
 * and so is an example whose content holds whitespace at an edge that trimming functions treat
 * differently. A template that looks inside the contents ({@code 'x' in message.content}) in a way no
 * checked example shows goes unnoticed: {@code exact} renders every example by jinjava. Not thread-safe.
 */
final class ChatSplit {
    /** Examples of each shape rendered both ways and compared. */
    static final int VERIFIED_PER_SHAPE = 8;
    /** After those, one example in this many is rendered both ways and compared. */
    static final int CHECK_EVERY = 64;
    /** The widest spacing of those checks. */
    static final int MAX_CHECK_EVERY = 4096;
    private static final char MARK_OPEN = '\uE000';
    private static final char MARK_CLOSE = '\uE001';
    private static final char MARK_BASE = '\uE100';
    private static final int MAX_SLOTS = 0xE0FF - 0xE002;
    private static final String PAD_LEFT = " \n";
    private static final String PAD_RIGHT = "\n ";

    /**
     * A rendered example.
     *
     * @param text the rendered conversation
     * @param completionStarts UTF-16 index where each trained turn's text starts (ascending)
     * @param completionEnds where each ends ({@code completionStarts[i] <= completionEnds[i] <=
     *     completionStarts[i + 1]})
     */
    record Rendered(String text, int[] completionStarts, int[] completionEnds) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Rendered r && text.equals(r.text) && Arrays.equals(completionStarts, r.completionStarts)
                    && Arrays.equals(completionEnds, r.completionEnds);
        }

        @Override
        public int hashCode() {
            return text.hashCode() * 31 + Arrays.hashCode(completionStarts);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "Rendered[%s, starts=%s, ends=%s]", text,
                    Arrays.toString(completionStarts), Arrays.toString(completionEnds));
        }
    }

    /** One message. */
    record Message(String role, String content) {
        Map<String, Object> asMap() {
            Map<String, Object> m = new LinkedHashMap<>(4); // role first, as JSON data has it
            m.put("role", role);
            m.put("content", content);
            return m;
        }
    }

    private final ChatTemplate template;
    private final Set<String> trainedRoles;
    private final boolean exact;
    private final Map<List<String>, Shape> shapes = new HashMap<>();
    private long assembled;
    private long rendered;
    private long mismatches;

    /**
     * @param template the chat template
     * @param trainedRoles the roles whose turns are completion
     * @param exact render every example by the template engine (no pieces)
     */
    ChatSplit(ChatTemplate template, Set<String> trainedRoles, boolean exact) {
        this.template = template;
        this.trainedRoles = Set.copyOf(trainedRoles);
        this.exact = exact || template.isPlain();
    }

    /** @return examples assembled from a shape's pieces */
    long assembled() {
        return assembled;
    }

    /** @return examples rendered by the template engine */
    long rendered() {
        return rendered;
    }

    /** @return checked examples whose assembled rendering differed from the engine's (the shape then went exact) */
    long mismatches() {
        return mismatches;
    }

    /**
     * Renders one example.
     *
     * @param messages its messages
     * @return the text and where the trained turns are
     * @throws IllegalArgumentException if the template raises or fails, or renders a conversation's
     *     beginning differently from the beginning of the whole (then characters cannot be attributed)
     */
    Rendered render(List<Message> messages) {
        if (template.isPlain()) {
            rendered++;
            return renderPlain(messages);
        }
        if (exact) {
            rendered++;
            return renderExact(messages);
        }
        List<String> key = new ArrayList<>(messages.size());
        for (Message m : messages) {
            key.add(m.role());
        }
        Shape shape = shapes.get(key);
        if (shape == null) {
            shape = Shape.of(this, key);
            shapes.put(key, shape);
        }
        Rendered fast = shape.pieces == null ? null : shape.assemble(messages);
        if (fast != null && shape.verified >= VERIFIED_PER_SHAPE && ++shape.sinceCheck < shape.checkEvery) {
            assembled++;
            return fast;
        }
        rendered++;
        Rendered slow = renderExact(messages);
        if (fast != null) {
            shape.sinceCheck = 0;
            if (fast.equals(slow)) {
                shape.verified++;
                if (shape.verified > VERIFIED_PER_SHAPE) {
                    shape.checkEvery = Math.min(2 * shape.checkEvery, MAX_CHECK_EVERY);
                }
            } else {
                shape.pieces = null; // the template depends on the contents: render this shape every time
                mismatches++;
            }
        }
        return slow;
    }

    /**
     * What {@link #renderExact} gives for {@link ChatTemplate#plain}, built in one pass: the contents joined
     * by the separator; a trained turn starts after the separator before it (the generation prompt of a plain
     * template) and ends with its content.
     */
    private Rendered renderPlain(List<Message> messages) {
        String separator = template.separator();
        int turns = 0;
        int length = 0;
        for (Message m : messages) {
            if (trainedRoles.contains(m.role())) {
                turns++;
            }
            length += m.content().length() + separator.length();
        }
        int[] starts = new int[turns];
        int[] ends = new int[turns];
        StringBuilder sb = new StringBuilder(length);
        int t = 0;
        for (int i = 0; i < messages.size(); i++) {
            if (i > 0) {
                sb.append(separator);
            }
            Message m = messages.get(i);
            boolean trained = trainedRoles.contains(m.role());
            if (trained) {
                starts[t] = sb.length();
            }
            sb.append(m.content());
            if (trained) {
                ends[t++] = sb.length();
            }
        }
        return new Rendered(sb.toString(), starts, ends);
    }

    private Rendered renderExact(List<Message> messages) {
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (Message m : messages) {
            maps.add(m.asMap());
        }
        String full = template.render(maps, false);
        int turns = 0;
        for (Message m : messages) {
            if (trainedRoles.contains(m.role())) {
                turns++;
            }
        }
        int[] starts = new int[turns];
        int[] ends = new int[turns];
        int t = 0;
        int previousEnd = 0;
        for (int i = 0; i < messages.size(); i++) {
            if (!trainedRoles.contains(messages.get(i).role())) {
                continue;
            }
            String before = template.render(maps.subList(0, i), true);
            if (!full.startsWith(before)) {
                // the generation prompt opens the assistant's turn, not this role's: the turn starts where
                // the conversation before it ends (its header counts as completion)
                before = template.render(maps.subList(0, i), false);
            }
            String upTo = template.render(maps.subList(0, i + 1), false);
            if (!full.startsWith(before) || !full.startsWith(upTo) || before.length() > upTo.length()
                    || before.length() < previousEnd) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "chat template %s renders the conversation up to message %d (%s) differently from the start "
                                + "of the whole conversation, so its characters cannot be told apart", template.name(), i,
                        messages.get(i).role()));
            }
            starts[t] = before.length();
            ends[t] = upTo.length();
            previousEnd = ends[t];
            t++;
        }
        return new Rendered(full, starts, ends);
    }

    /**
     * Counts prompt and completion tokens of a rendered example, tokenized once.
     *
     * @param tokenizer the tokenizer
     * @param r the rendered example
     * @return {prompt tokens, completion tokens}
     */
    static int[] count(TokenCounter tokenizer, Rendered r) {
        TokenCounter.Spans spans = tokenizer.spans(r.text());
        int n = spans.count();
        int turns = r.completionStarts().length;
        if (n == 0 || turns == 0) {
            return new int[] {n, 0};
        }
        // The rule of PromptCompletionMask.ofCharOffsets with one boundary per turn start and one per turn
        // end: a token is completion when it is COMPLETION at the turn's start (it ends after it) and PROMPT
        // at its end (it ends at or before it); a token with empty offsets takes the role of the token
        // before it (PROMPT if none) at every boundary, hence its classification. A turn that runs to the
        // end of the text takes every token after its start. (ChatSplitTest checks this against
        // ofCharOffsets itself, which allocates a role row per boundary.)
        String text = r.text();
        int[] lo = new int[turns];
        int[] hi = new int[turns];
        int length = text.length();
        if (turns == 1 && spans.starts() == null) {
            // tokens that tile the text: its length in offsets is the last end, so each boundary is converted
            // from the nearer end of the text (a short completion or a short suffix is all that is scanned)
            int total = spans.ends()[n - 1];
            int start = r.completionStarts()[0];
            int end = r.completionEnds()[0];
            lo[0] = start <= length - start ? tokenizer.offsetBetween(text, 0, start)
                    : total - tokenizer.offsetBetween(text, start, length);
            hi[0] = end >= length ? Integer.MAX_VALUE : end - start <= length - end
                    ? lo[0] + tokenizer.offsetBetween(text, start, end) : total - tokenizer.offsetBetween(text, end, length);
        } else {
            int at = 0;
            int offset = 0;
            for (int i = 0; i < turns; i++) {
                // boundaries ascend: convert each from the previous one (one pass over the text in all)
                offset += tokenizer.offsetBetween(text, at, r.completionStarts()[i]);
                at = r.completionStarts()[i];
                lo[i] = offset;
                int end = r.completionEnds()[i];
                if (end >= length) {
                    hi[i] = Integer.MAX_VALUE;
                } else {
                    offset += tokenizer.offsetBetween(text, at, end);
                    at = end;
                    hi[i] = offset;
                }
            }
        }
        int[] ends = spans.ends();
        int completion = 0;
        boolean previous = false; // the previous token's classification (none: prompt)
        for (int k = 0; k < n; k++) {
            int e = ends[k];
            boolean c = previous;
            if (!spans.empty(k)) {
                c = false;
                for (int i = 0; i < turns; i++) {
                    if (e > lo[i] && e <= hi[i]) {
                        c = true;
                        break;
                    }
                }
            }
            if (c) {
                completion++;
            }
            previous = c;
        }
        return new int[] {n - completion, completion};
    }

    /** What one shape of conversation renders to, with the contents left out. */
    private static final class Shape {
        /** The pieces of each rendering: literal, slot, literal, ..., literal; null: render every time. */
        Piece[] pieces;
        /** Per slot occurrence, in order: the message index and whether the template trims it. */
        int[] slotMessage;
        boolean[] slotTrimmed;
        /** The boundaries as (literal index, offset in it), two per trained turn. */
        int[] boundaryLiteral;
        int[] boundaryOffset;
        int verified;
        int sinceCheck;
        int checkEvery = CHECK_EVERY;

        record Piece(String literal) {
        }

        static Shape of(ChatSplit split, List<String> roles) {
            Shape s = new Shape();
            if (roles.size() > MAX_SLOTS) {
                return s;
            }
            try {
                Rendered plain = split.renderExact(messages(roles, "", ""));
                Rendered padded = split.renderExact(messages(roles, PAD_LEFT, PAD_RIGHT));
                s.build(plain, padded);
            } catch (IllegalArgumentException e) {
                s.pieces = null; // the template raises for this shape or splits it oddly: render each example
            }
            return s;
        }

        private static List<Message> messages(List<String> roles, String left, String right) {
            List<Message> out = new ArrayList<>(roles.size());
            for (int i = 0; i < roles.size(); i++) {
                out.add(new Message(roles.get(i), left + marker(i) + right));
            }
            return out;
        }

        private static String marker(int i) {
            return new String(new char[] {MARK_OPEN, (char) (MARK_BASE + i), MARK_CLOSE});
        }

        private void build(Rendered plain, Rendered padded) {
            List<String> literals = new ArrayList<>();
            List<Integer> slots = new ArrayList<>();
            List<Integer> literalStarts = new ArrayList<>();
            String text = plain.text();
            int at = 0;
            int open;
            while ((open = text.indexOf(MARK_OPEN, at)) >= 0) {
                if (open + 2 >= text.length() || text.charAt(open + 2) != MARK_CLOSE) {
                    return;
                }
                literalStarts.add(at);
                literals.add(text.substring(at, open));
                slots.add(text.charAt(open + 1) - MARK_BASE);
                at = open + 3;
            }
            literalStarts.add(at);
            literals.add(text.substring(at));
            // The padded rendering must hold the same slots, each with both pads (verbatim) or neither (trimmed).
            int m = slots.size();
            boolean[] trimmed = new boolean[m];
            String p = padded.text();
            int pos = 0;
            for (int j = 0; j <= m; j++) {
                String lit = literals.get(j);
                if (j > 0 && !trimmed[j - 1]) {
                    if (!p.startsWith(PAD_RIGHT, pos)) {
                        return;
                    }
                    pos += PAD_RIGHT.length();
                }
                if (!p.startsWith(lit, pos)) {
                    return;
                }
                pos += lit.length();
                if (j == m) {
                    break;
                }
                String mark = marker(slots.get(j));
                if (p.startsWith(PAD_LEFT + mark, pos)) {
                    pos += PAD_LEFT.length();
                    if (!p.startsWith(mark + PAD_RIGHT, pos)) {
                        return;
                    }
                } else if (p.startsWith(mark, pos)) {
                    trimmed[j] = true;
                    if (p.startsWith(mark + PAD_RIGHT, pos) && !literals.get(j + 1).startsWith(PAD_RIGHT)) {
                        return; // trimmed on the left only
                    }
                } else {
                    return;
                }
                pos += mark.length();
            }
            if (pos != p.length()) {
                return;
            }
            // Boundaries must fall inside literals (at a literal's end at the latest).
            int turns = plain.completionStarts().length;
            int[] bl = new int[2 * turns];
            int[] bo = new int[2 * turns];
            for (int i = 0; i < 2 * turns; i++) {
                int b = i % 2 == 0 ? plain.completionStarts()[i / 2] : plain.completionEnds()[i / 2];
                int j = literals.size() - 1;
                while (j > 0 && literalStarts.get(j) > b) {
                    j--;
                }
                int off = b - literalStarts.get(j);
                if (off > literals.get(j).length()) {
                    return; // inside a content
                }
                bl[i] = j;
                bo[i] = off;
            }
            Piece[] ps = new Piece[literals.size()];
            for (int j = 0; j < ps.length; j++) {
                ps[j] = new Piece(literals.get(j));
            }
            int[] sm = new int[m];
            for (int j = 0; j < m; j++) {
                sm[j] = slots.get(j);
            }
            this.slotMessage = sm;
            this.slotTrimmed = trimmed;
            this.boundaryLiteral = bl;
            this.boundaryOffset = bo;
            this.pieces = ps;
        }

        /** @return the example built from the pieces, or null when it must be rendered by the engine */
        Rendered assemble(List<Message> messages) {
            int m = slotMessage.length;
            String[] contents = new String[m];
            for (int j = 0; j < m; j++) {
                String c = messages.get(slotMessage[j]).content();
                if (c.indexOf(MARK_OPEN) >= 0 || c.indexOf(MARK_CLOSE) >= 0) {
                    return null;
                }
                if (slotTrimmed[j]) {
                    c = trimPlain(c);
                    if (c == null) {
                        return null;
                    }
                }
                contents[j] = c;
            }
            int length = 0;
            for (Piece piece : pieces) {
                length += piece.literal().length();
            }
            for (String c : contents) {
                length += c.length();
            }
            StringBuilder sb = new StringBuilder(length);
            int[] literalAt = new int[pieces.length];
            for (int j = 0; j < pieces.length; j++) {
                literalAt[j] = sb.length();
                sb.append(pieces[j].literal());
                if (j < m) {
                    sb.append(contents[j]);
                }
            }
            int turns = boundaryLiteral.length / 2;
            int[] starts = new int[turns];
            int[] ends = new int[turns];
            for (int i = 0; i < turns; i++) {
                starts[i] = literalAt[boundaryLiteral[2 * i]] + boundaryOffset[2 * i];
                ends[i] = literalAt[boundaryLiteral[2 * i + 1]] + boundaryOffset[2 * i + 1];
            }
            return new Rendered(sb.toString(), starts, ends);
        }

        /**
         * Strips spaces, tabs, CR and LF from both ends (what every trimming function strips), or returns
         * null when an end then holds another whitespace or control character (NBSP, vertical tab...)
         * that Python's {@code strip} and Java's {@code trim}/{@code strip} treat differently.
         */
        private static String trimPlain(String c) {
            int a = 0;
            int b = c.length();
            while (a < b && isPlainSpace(c.charAt(a))) {
                a++;
            }
            while (b > a && isPlainSpace(c.charAt(b - 1))) {
                b--;
            }
            if (a < b && (isOtherSpace(c.charAt(a)) || isOtherSpace(c.charAt(b - 1)))) {
                return null;
            }
            return c.substring(a, b);
        }

        private static boolean isPlainSpace(char ch) {
            return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
        }

        private static boolean isOtherSpace(char ch) {
            return ch <= ' ' || Character.isWhitespace(ch) || Character.isSpaceChar(ch) || ch == '\u0085'
                    || ch == '\u200b' || ch == '\ufeff' || ch == '\u007f';
        }
    }
}
