package org.plw4j.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Hugging Face {@code tokenizer.json} files made in the tests: a word-level model behind the
 * {@code Whitespace} pre-tokenizer (runs of word characters, runs of other non-space characters),
 * so every word or punctuation run is one token and counts can be made by hand; the given special
 * tokens are matched in the text as single tokens. Nothing is downloaded.
 */
final class TestTokenizers {
    private TestTokenizers() {
    }

    /**
     * @param dir where to write {@code tokenizer.json}
     * @param specials added special tokens, recognised in the text
     * @param bos with {@code eos}: a post-processor that adds them around a text (only with
     *     {@code --add-special-tokens}), or null for none
     * @param eos see {@code bos}
     * @return the file
     */
    static Path wordLevel(Path dir, List<String> specials, String bos, String eos) throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = m.createObjectNode();
        List<String> all = new java.util.ArrayList<>(List.of("[UNK]"));
        all.addAll(specials);
        for (int id = 0; id < all.size(); id++) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", all.get(id));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            vocab.put(all.get(id), id);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        if (bos != null) {
            ObjectNode post = root.putObject("post_processor");
            post.put("type", "TemplateProcessing");
            ArrayNode single = post.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            single.addObject().putObject("SpecialToken").put("id", eos).put("type_id", 0);
            ArrayNode pair = post.putArray("pair");
            pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            ObjectNode st = post.putObject("special_tokens");
            for (String s : List.of(bos, eos)) {
                ObjectNode e = st.putObject(s);
                e.put("id", s);
                e.putArray("ids").add(all.indexOf(s));
                e.putArray("tokens").add(s);
            }
        } else {
            root.putNull("post_processor");
        }
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", vocab);
        model.put("unk_token", "[UNK]");
        Path p = dir.resolve("tokenizer.json");
        Files.writeString(p, m.writeValueAsString(root), StandardCharsets.UTF_8);
        return p;
    }
}
