package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in chat templates against the formats their model families document, character for
 * character (Llama-2-chat's {@code [INST]}/{@code <<SYS>>} format, Llama-3-Instruct's header tokens,
 * ChatML, Mistral-7B-Instruct's {@code [INST]} format, Gemma's turns), and templates read from a
 * Hugging Face {@code tokenizer_config.json} or a {@code .jinja} file. Exact string equality.
 */
class ChatTemplateTest {
    @TempDir
    Path tmp;

    private static List<Map<String, Object>> chat(String... roleContent) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < roleContent.length; i += 2) {
            out.add(Map.of("role", roleContent[i], "content", roleContent[i + 1]));
        }
        return out;
    }

    private static String render(String name, boolean generationPrompt, String... roleContent) throws IOException {
        return ChatTemplate.open(name, null, null).render(chat(roleContent), generationPrompt);
    }

    @Test
    void llama2() throws IOException {
        assertEquals("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]",
                render("llama-2", true, "system", "S", "user", "U1", "assistant", "A1", "user", "U2"));
        // the article's form: <s>[INST] {prompt} [/INST] {completion} </s>, contents stripped
        assertEquals("<s>[INST] what is it [/INST] it is </s>",
                render("llama-2", false, "user", " what is it\n", "assistant", " it is"));
    }

    @Test
    void llama3() throws IOException {
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                render("llama-3", true, "system", "S", "user", " U1 ", "assistant", "A1", "user", "U2"));
    }

    @Test
    void chatml() throws IOException {
        assertEquals("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n"
                + "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n",
                render("chatml", true, "system", "S", "user", "U1", "assistant", "A1", "user", "U2"));
        assertEquals("<|im_start|>user\n U1 <|im_end|>\n", render("chatml", false, "user", " U1 "));
    }

    @Test
    void mistral() throws IOException {
        assertEquals("<s>[INST] U1 [/INST]A1</s>[INST] U2 [/INST]",
                render("mistral", true, "user", "U1", "assistant", "A1", "user", "U2"));
    }

    @Test
    void gemma() throws IOException {
        assertEquals("<bos><start_of_turn>user\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n"
                + "<start_of_turn>user\nU2<end_of_turn>\n<start_of_turn>model\n",
                render("gemma", true, "user", "U1 ", "assistant", "\nA1", "user", "U2"));
    }

    @Test
    void templatesThatRaiseSayWhy() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> render("mistral", false, "system", "S", "user", "U"));
        assertTrue(e.getMessage().contains("chat template mistral raised: mistral: roles must alternate"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> render("gemma", false, "system", "S", "user", "U"));
        assertTrue(e.getMessage().contains("gemma: no system role"), e.getMessage());
    }

    @Test
    void unknownNameIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ChatTemplate.open("llama-9", null, null));
        assertTrue(e.getMessage().contains("llama-2, llama-3, chatml, mistral, gemma"), e.getMessage());
        assertTrue(e.getMessage().contains("'llama-9'"), e.getMessage());
    }

    @Test
    void tokenizerConfigWithItsTokensAndJinjaSemantics() throws IOException {
        // What Hugging Face templates rely on: Jinja precedence (a filter binds tighter than +), '\n' escapes,
        // loop.index0 and loop.first, slices, namespace(), .strip(), the trim filter, raise_exception and
        // AddedToken objects for bos_token; the message text "{{ 1 + 1 }}" stays text.
        String template = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                + "{% if loop.first %}{{ bos_token }}{% endif %}"
                + "{{ '<|' + m['role'] + '|>\\n' + m['content'] | trim + '<|end|>\\n' }}{% endfor %}"
                + "{% if messages[1:] | length > 5 %}{{ raise_exception('too long') }}{% endif %}"
                + "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{{ ns.n }}{{ eos_token.strip() }}";
        Path config = tmp.resolve("tokenizer_config.json");
        Files.writeString(config, new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of(
                "chat_template", template,
                "bos_token", Map.of("content", "<BOS>", "lstrip", false),
                "eos_token", " <EOS> ")), StandardCharsets.UTF_8);
        ChatTemplate t = ChatTemplate.open(config.toString(), null, null);
        assertEquals("<BOS><|user|>\n{{ 1 + 1 }}<|end|>\n<|assistant|>\n1<EOS>",
                t.render(chat("user", "  {{ 1 + 1 }}\n"), true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.render(chat("u", "1", "u", "2", "u", "3", "u", "4", "u", "5", "u", "6", "u", "7"), false));
        assertTrue(e.getMessage().endsWith("raised: too long"), e.getMessage());
        // the folder holding it works too, and the named-template list form
        Files.writeString(config, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
                + "{\"name\": \"default\", \"template\": \"D{{ bos_token }}\"}], \"bos_token\": \"<s>\"}");
        assertEquals("D<s>", ChatTemplate.open(tmp.toString(), null, null).render(chat(), false));
    }

    @Test
    void tokenizerConfigWithoutChatTemplateNamesFileAndField() throws IOException {
        Path config = tmp.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": \"<s>\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ChatTemplate.open(config.toString(), null, null));
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("'chat_template'"),
                e.getMessage());
    }

    @Test
    void jinjaFileDropsItsFinalNewlineAndTakesTokensFromOptions() throws IOException {
        Path jinja = tmp.resolve("t.jinja");
        Files.writeString(jinja, "{% for m in messages %}\n{{ bos_token }}{{ m.content }}\n{% endfor %}END\n");
        // trim_blocks: the newline after a block tag goes; the file's final newline goes (Jinja's default)
        assertEquals("<s>a\n<s>b\nEND", ChatTemplate.open(jinja.toString(), "<s>", null).render(chat("user", "a", "user", "b"), false));
    }
}
