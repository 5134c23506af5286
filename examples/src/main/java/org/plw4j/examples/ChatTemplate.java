package org.plw4j.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.tree.Node;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A chat template: renders a conversation (a list of {@code role}/{@code content} messages) to the text
 * a model is trained on. A Jinja template, as Hugging Face models ship them in {@code tokenizer_config.json}
 * ({@code chat_template}), rendered by jinjava with what those templates use: {@code messages},
 * {@code add_generation_prompt}, {@code bos_token}, {@code eos_token}, {@code raise_exception(msg)},
 * {@code loop}, slices, {@code namespace}, filters such as {@code trim} and string methods such as
 * {@code .strip()}; Jinja's whitespace rules as Hugging Face sets them ({@code trim_blocks},
 * {@code lstrip_blocks}, the template's final newline dropped); a message's text is never itself
 * interpreted as a template.
 *
 * <p>Built-in templates ({@link #BUILT_IN}) are Jinja files of this project that render each model
 * family's documented format. {@link #plain(String)} is no template at all: the contents joined by a
 * separator. Not thread-safe.
 */
final class ChatTemplate {
    /** The built-in template names. */
    static final List<String> BUILT_IN = List.of("llama-2", "llama-3", "chatml", "mistral", "gemma");

    private static final Map<String, String[]> BUILT_IN_TOKENS = Map.of(
            "llama-2", new String[] {"<s>", "</s>"},
            "llama-3", new String[] {"<|begin_of_text|>", "<|eot_id|>"},
            "chatml", new String[] {"", ""},
            "mistral", new String[] {"<s>", "</s>"},
            "gemma", new String[] {"<bos>", "<eos>"});

    private final String name;
    /** Null for {@link #plain}. */
    private final Jinjava jinjava;
    private final Node root;
    private final String bosToken;
    private final String eosToken;
    /** {@link #plain}'s separator (null for a Jinja template). */
    private final String separator;

    private ChatTemplate(String name, String source, String bosToken, String eosToken) {
        this.name = name;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.separator = null;
        // Jinja's semantics where jinjava offers them: '\n' escapes in literals, operator precedence (a filter
        // binds tighter than +), {{- -}} and {#- -#} whitespace control, iterating a dict's keys. Not
        // "parseWhitespaceControlStrictly": with it jinjava prints a {#- -#} comment and all after it as text.
        LegacyOverrides jinja = LegacyOverrides.newBuilder()
                .withEvaluateMapKeys(true)
                .withIterateOverMapKeys(true)
                .withUseNaturalOperatorPrecedence(true)
                .withHandleBackslashInQuotesOnly(true)
                .withUseTrimmingForNotesAndExpressions(true)
                .withKeepNullableLoopValues(true)
                .build();
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(jinja)
                .withNestedInterpretationEnabled(false) // "{{" in a message is text, never a template
                .withFailOnUnknownTokens(false)
                .withLocale(Locale.ROOT)
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        JinjavaInterpreter parser = jinjava.newInterpreter();
        // Jinja drops a single newline at the end of a template (keep_trailing_newline is off by default)
        String body = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
                : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        this.root = parser.parse(body);
        if (!parser.getErrors().isEmpty()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "chat template %s does not parse: %s",
                    name, describe(parser.getErrors())));
        }
    }

    private ChatTemplate(String name, String separator) {
        this.name = name;
        this.jinjava = null;
        this.root = null;
        this.bosToken = "";
        this.eosToken = "";
        this.separator = separator;
    }

    /**
     * The function templates call to reject a conversation ({@code raise_exception('...')}).
     *
     * @param message the template's message
     * @return never
     * @throws TemplateRaised always
     */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** What {@code raise_exception} throws through jinjava. */
    static final class TemplateRaised extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TemplateRaised(String message) {
            super(message);
        }
    }

    /**
     * No template: the messages' contents joined by {@code separator}.
     *
     * @param separator what goes between two messages
     * @return the template
     */
    static ChatTemplate plain(String separator) {
        return new ChatTemplate("none", separator);
    }

    /**
     * Opens a template.
     *
     * @param spec a built-in name ({@link #BUILT_IN}), a Hugging Face {@code tokenizer_config.json} (its
     *     {@code chat_template}, {@code bos_token}, {@code eos_token}), a folder holding one, or a {@code .jinja}
     *     file (BOS and EOS then come from {@code bosToken}/{@code eosToken}, default empty)
     * @param bosToken overrides the BOS token string, or null
     * @param eosToken overrides the EOS token string, or null
     * @return the template
     * @throws IllegalArgumentException if {@code spec} is neither a built-in name nor an existing file, a
     *     {@code tokenizer_config.json} has no usable {@code chat_template}, or the template does not parse
     * @throws IOException if the file cannot be read
     */
    static ChatTemplate open(String spec, String bosToken, String eosToken) throws IOException {
        String key = spec.toLowerCase(Locale.ROOT);
        if (BUILT_IN_TOKENS.containsKey(key)) {
            String[] tokens = BUILT_IN_TOKENS.get(key);
            String resource = "chat-templates/" + key + ".jinja";
            try (InputStream in = ChatTemplate.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IllegalStateException("missing resource " + resource);
                }
                return new ChatTemplate(key, new String(in.readAllBytes(), StandardCharsets.UTF_8),
                        bosToken != null ? bosToken : tokens[0], eosToken != null ? eosToken : tokens[1]);
            }
        }
        Path path = Path.of(spec);
        if (Files.isDirectory(path)) {
            path = path.resolve("tokenizer_config.json");
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "--chat-template must be one of %s, a tokenizer_config.json or a .jinja file, was '%s'",
                    String.join(", ", BUILT_IN), spec));
        }
        String text = Files.readString(path, StandardCharsets.UTF_8);
        if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json")) {
            return fromTokenizerConfig(path, text, bosToken, eosToken);
        }
        return new ChatTemplate(path.getFileName().toString(), text,
                bosToken != null ? bosToken : "", eosToken != null ? eosToken : "");
    }

    private static ChatTemplate fromTokenizerConfig(Path path, String text, String bosToken, String eosToken)
            throws IOException {
        JsonNode config = new ObjectMapper().readTree(text);
        if (config == null || !config.isObject()) {
            throw new IllegalArgumentException(path + " is not a JSON object");
        }
        JsonNode template = config.get("chat_template");
        String source = null;
        if (template != null && template.isTextual()) {
            source = template.asText();
        } else if (template != null && template.isArray()) {
            // several named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
            for (JsonNode named : template) {
                if ("default".equals(named.path("name").asText(null)) && named.path("template").isTextual()) {
                    source = named.get("template").asText();
                }
            }
        }
        if (source == null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s has no field 'chat_template' (a string, or a list holding a template named 'default')%s",
                    path, template == null ? "" : ", it is " + template.getNodeType().toString().toLowerCase(Locale.ROOT)));
        }
        return new ChatTemplate(path.toString(), source,
                bosToken != null ? bosToken : token(config.get("bos_token")),
                eosToken != null ? eosToken : token(config.get("eos_token")));
    }

    /** A special token as tokenizer_config.json writes it: a string, an AddedToken object, or absent. */
    private static String token(JsonNode node) {
        if (node == null || node.isNull()) {
            return "";
        }
        if (node.isObject()) {
            return node.path("content").asText("");
        }
        return node.asText();
    }

    /** @return the template's name or file */
    String name() {
        return name;
    }

    /** @return {@link #plain}'s separator, null for a Jinja template */
    String separator() {
        return separator;
    }

    /** @return whether this is {@link #plain} */
    boolean isPlain() {
        return separator != null;
    }

    /**
     * Renders a conversation.
     *
     * @param messages the messages, each a map with at least {@code role} and {@code content}
     * @param addGenerationPrompt whether to end with the header that starts the assistant's turn
     * @return the text
     * @throws IllegalArgumentException if the template raises ({@code raise_exception}) or fails; the message
     *     says why
     */
    String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        Objects.requireNonNull(messages, "messages");
        if (separator != null) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < messages.size(); i++) {
                if (i > 0) {
                    sb.append(separator);
                }
                Object content = messages.get(i).get("content");
                sb.append(content == null ? "" : content.toString());
            }
            if (addGenerationPrompt && !messages.isEmpty()) {
                sb.append(separator);
            }
            return sb.toString();
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", messages);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        JinjavaInterpreter interpreter = new JinjavaInterpreter(jinjava, new Context(jinjava.getGlobalContext(), bindings),
                jinjava.getGlobalConfig());
        JinjavaInterpreter.pushCurrent(interpreter);
        String out;
        try {
            out = interpreter.render(root);
        } finally {
            JinjavaInterpreter.popCurrent();
        }
        List<TemplateError> errors = new ArrayList<>();
        for (TemplateError e : interpreter.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException(describe(errors));
        }
        return out;
    }

    private String describe(List<TemplateError> errors) {
        TemplateError first = errors.get(0);
        for (Throwable t = first.getException(); t != null; t = t.getCause()) {
            if (t instanceof TemplateRaised) {
                return String.format(Locale.ROOT, "chat template %s raised: %s", name, t.getMessage());
            }
        }
        return String.format(Locale.ROOT, "chat template %s failed at line %d: %s", name, first.getLineno(),
                first.getMessage());
    }
}
