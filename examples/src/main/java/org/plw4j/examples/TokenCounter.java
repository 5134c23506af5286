package org.plw4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * Counts the tokens of a text, offline: with a BPE vocabulary bundled in jtokkit
 * ({@code cl100k_base}, {@code o200k_base}, ...) or with a local Hugging Face {@code tokenizer.json}
 * read by DJL's tokenizers binding. Not thread-safe (the HF binding holds a native handle).
 *
 * <p>Nothing is added to the text (no BOS/EOS unless {@code addSpecialTokens}) and nothing is cut: every
 * token of an arbitrarily long text is counted, whatever truncation a {@code tokenizer.json} asks for.
 */
interface TokenCounter extends AutoCloseable {

    /**
     * @param text any text (for jtokkit, special-token strings such as {@code <|endoftext|>} are ordinary
     *     text; a {@code tokenizer.json} recognises its added tokens, e.g. {@code <s>}, in the text)
     * @return its number of tokens
     */
    int count(String text);

    /**
     * Tokenizes once and gives each token's offsets {@code [start, end)} in the text, in the unit of
     * {@link #offsetBetween}: UTF-8 bytes for jtokkit (a byte-level BPE token may end inside a character),
     * Unicode code points for a {@code tokenizer.json} (what the Hugging Face library reports). A token
     * with no text of its own (a special token its post-processor adds) has {@code start == end}.
     *
     * @param text the text
     * @return the spans, one per token, in order
     */
    Spans spans(String text);

    /**
     * @param text the text given to {@link #spans}
     * @param from a UTF-16 index into it, at a code point boundary
     * @param to another, {@code >= from}
     * @return the length of {@code text[from, to)} in the unit of {@link #spans}, so that the offset of
     *     {@code to} is the offset of {@code from} plus this
     */
    int offsetBetween(String text, int from, int to);

    /**
     * Token offsets: {@code starts[k], ends[k]} for each of the tokens of a text.
     *
     * @param starts start offsets, or null when the tokens tile the text (none is empty, each starts where the
     *     one before it ends, the first at 0, the last ends at the text's end)
     * @param ends end offsets (exclusive), one per token
     */
    record Spans(int[] starts, int[] ends) {
        /** @return the number of tokens */
        int count() {
            return ends.length;
        }

        /**
         * @param k a token
         * @return whether it has no text of its own (an added special token)
         */
        boolean empty(int k) {
            return starts != null && starts[k] == ends[k];
        }
    }

    /** @return a short description for reports, e.g. {@code cl100k_base (jtokkit)} */
    String description();

    @Override
    void close();

    /**
     * Opens a counter.
     *
     * @param spec a jtokkit encoding name ({@code cl100k_base}, {@code o200k_base}, {@code p50k_base},
     *     {@code r50k_base}) or the path of a {@code tokenizer.json} file (or of a folder holding one)
     * @param addSpecialTokens for a {@code tokenizer.json}: count the special tokens its post-processor adds
     *     (BOS/EOS...); jtokkit encodings add none
     * @return the counter
     * @throws IllegalArgumentException if {@code spec} is neither a known encoding nor an existing file
     * @throws IOException if the tokenizer file cannot be read
     */
    static TokenCounter open(String spec, boolean addSpecialTokens) throws IOException {
        Optional<EncodingType> type = EncodingType.fromName(spec.toLowerCase(Locale.ROOT));
        if (type.isPresent()) {
            Encoding encoding = Encodings.newLazyEncodingRegistry().getEncoding(type.get());
            return new TokenCounter() {
                /** UTF-8 length of each token id met so far (0: not yet decoded; no token is empty). */
                private int[] byteLengths = new int[0];

                @Override
                public int count(String text) {
                    return encoding.countTokensOrdinary(text);
                }

                @Override
                public Spans spans(String text) {
                    // byte-level BPE tiles the text's UTF-8 bytes: the ends are the running sums of token lengths
                    IntArrayList ids = encoding.encodeOrdinary(text);
                    int n = ids.size();
                    int[] ends = new int[n];
                    int[] lengths = byteLengths;
                    int at = 0;
                    for (int k = 0; k < n; k++) {
                        int id = ids.get(k);
                        int len = id < lengths.length ? lengths[id] : 0;
                        if (len == 0) {
                            len = decodedLength(id);
                            lengths = byteLengths;
                        }
                        at += len;
                        ends[k] = at;
                    }
                    return new Spans(null, ends);
                }

                /** The slow path of {@link #spans}: decodes a token met for the first time. */
                private int decodedLength(int id) {
                    if (id >= byteLengths.length) {
                        byteLengths = Arrays.copyOf(byteLengths, Math.max(id + 1, 2 * byteLengths.length));
                    }
                    IntArrayList one = new IntArrayList(1);
                    one.add(id);
                    int len = encoding.decodeBytes(one).length;
                    byteLengths[id] = len;
                    return len;
                }

                @Override
                public int offsetBetween(String text, int from, int to) {
                    return utf8Length(text, from, to);
                }

                @Override
                public String description() {
                    return encoding.getName() + " (jtokkit)";
                }

                @Override
                public void close() {
                    // nothing held
                }
            };
        }
        Path path = Path.of(spec);
        if (Files.isDirectory(path)) {
            path = path.resolve("tokenizer.json");
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tokenizer must be one of cl100k_base, o200k_base, p50k_base, r50k_base or an existing "
                            + "tokenizer.json file, was '%s'", spec));
        }
        // DJL would try to download a CUDA build of its native library on a machine with CUDA;
        // the CPU build bundled in the jar is all a token count needs, so pin it (unless the user chose).
        if (System.getenv("RUST_FLAVOR") == null && System.getProperty("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
        // No truncation, no padding: count every token of arbitrarily long texts.
        HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(path,
                Map.of("truncation", "false", "padding", "false", "addSpecialTokens", Boolean.toString(addSpecialTokens)));
        String description = path.getFileName() + " (Hugging Face tokenizers via DJL)";
        return new TokenCounter() {
            @Override
            public int count(String text) {
                return tokenizer.encode(text, addSpecialTokens, false).getIds().length;
            }

            @Override
            public Spans spans(String text) {
                CharSpan[] spans = tokenizer.encode(text, addSpecialTokens, false).getCharTokenSpans();
                int n = spans.length;
                int[] starts = new int[n];
                int[] ends = new int[n];
                int prev = 0;
                for (int k = 0; k < n; k++) {
                    // an added special token has no span: empty, where the previous token ended
                    if (spans[k] != null) {
                        starts[k] = spans[k].getStart();
                        prev = spans[k].getEnd();
                    } else {
                        starts[k] = prev;
                    }
                    ends[k] = prev;
                }
                return new Spans(starts, ends);
            }

            @Override
            public int offsetBetween(String text, int from, int to) {
                return text.codePointCount(from, to);
            }

            @Override
            public String description() {
                return description;
            }

            @Override
            public void close() {
                tokenizer.close();
            }
        };
    }

    /**
     * @param text a text
     * @param from a UTF-16 index into it, not inside a surrogate pair
     * @param to another, {@code >= from}
     * @return the UTF-8 length of {@code text[from, to)}
     */
    static int utf8Length(String text, int from, int to) {
        int i = from;
        while (i < to && text.charAt(i) < 0x80) {
            i++; // ASCII, the common case: one byte a character
        }
        int bytes = i - from;
        for (; i < to; i++) {
            char ch = text.charAt(i);
            if (ch < 0x80) {
                bytes++;
            } else if (ch < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(ch) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3; // a lone surrogate too: jtokkit encodes it as its code point, in 3 bytes
            }
        }
        return bytes;
    }
}
