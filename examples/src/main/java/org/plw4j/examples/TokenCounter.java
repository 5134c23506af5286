package org.plw4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Counts the tokens of a text, offline: with a BPE vocabulary bundled in jtokkit
 * ({@code cl100k_base}, {@code o200k_base}, ...) or with a local Hugging Face {@code tokenizer.json}
 * read by DJL's tokenizers binding. Not thread-safe (the HF binding holds a native handle).
 */
interface TokenCounter extends AutoCloseable {

    /**
     * @param text any text (special-token strings such as {@code <|endoftext|>} are counted as ordinary text)
     * @return its number of tokens
     */
    int count(String text);

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
                @Override
                public int count(String text) {
                    return encoding.countTokensOrdinary(text);
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
            public String description() {
                return description;
            }

            @Override
            public void close() {
                tokenizer.close();
            }
        };
    }
}
