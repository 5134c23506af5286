package org.plw4j.examples;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Counts the prompt and completion tokens of one record of a data set, as {@link RgReport} and the Spark
 * job do: the texts come from two fields, from templates over fields, or from a chat array; they are
 * counted either as the article does ({@link Method#ARTICLE}: rendered with a chat template, tokenized
 * once, split by character offsets, see {@link ChatSplit}) or apart ({@link Method#SEPARATE}: the
 * prompt text and the completion text tokenized separately, no template). Not thread-safe: one per
 * thread.
 */
public final class RgCounter implements AutoCloseable {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^{}]+)}");
    private static final String USER = "user";
    private static final String ASSISTANT = "assistant";

    /** How tokens are counted. */
    public enum Method {
        /** Render with the chat template (or concatenate), tokenize once, split by character offsets. */
        ARTICLE,
        /** Tokenize the prompt text and the completion text apart, no chat template. */
        SEPARATE
    }

    /**
     * Everything that decides the counts (what {@code rg-report}'s options say).
     *
     * @param tokenizer a jtokkit encoding name or a {@code tokenizer.json} path
     * @param addSpecialTokens count the special tokens a {@code tokenizer.json}'s post-processor adds
     * @param chatTemplate a built-in template name, a {@code tokenizer_config.json} or {@code .jinja} path, or null
     * @param bosToken the BOS string for the template, or null for the template's own
     * @param eosToken the EOS string for the template, or null for the template's own
     * @param method how tokens are counted
     * @param exactRender render every example with the template engine
     * @param promptField the prompt's field
     * @param completionField the completion's field
     * @param promptTemplate a {@code {field}} template for the prompt, or null
     * @param completionTemplate a {@code {field}} template for the completion, or null
     * @param messagesField the chat array's field, or null
     * @param completionRoles with {@code messagesField}: the trained roles
     */
    public record Settings(String tokenizer, boolean addSpecialTokens, String chatTemplate, String bosToken,
            String eosToken, Method method, boolean exactRender, String promptField, String completionField,
            String promptTemplate, String completionTemplate, String messagesField, Set<String> completionRoles)
            implements Serializable {
        /**
         * @throws IllegalArgumentException if a chat template is given with {@link Method#SEPARATE}
         */
        public Settings {
            completionRoles = Set.copyOf(completionRoles);
            if (method == Method.SEPARATE && chatTemplate != null) {
                throw new IllegalArgumentException("--chat-template needs --count article (--count separate "
                        + "tokenizes the prompt and the completion apart, without a template)");
            }
        }

        /**
         * @param tokenizerFile the tokenizer to use instead (the same file elsewhere, e.g. a Spark executor's copy)
         * @param chatTemplateFile the chat template to use instead
         * @return these settings with those two changed
         */
        public Settings withFiles(String tokenizerFile, String chatTemplateFile) {
            return new Settings(tokenizerFile, addSpecialTokens, chatTemplateFile, bosToken, eosToken, method,
                    exactRender, promptField, completionField, promptTemplate, completionTemplate, messagesField,
                    completionRoles);
        }
    }

    /**
     * The counts of one record, or what is wrong with it.
     *
     * @param promptTokens prompt tokens
     * @param completionTokens completion tokens
     * @param problem null, or why the record was not counted (it names the field)
     */
    public record Counted(int promptTokens, int completionTokens, String problem) {
    }

    private final Settings settings;
    private final TokenCounter tokenizer;
    private final ChatSplit split;
    private final Template prompt;
    private final Template completion;
    private final String templateName;
    /** Where {@link #fields} builds the texts (reused: a counter is used by one thread). */
    private final StringBuilder text = new StringBuilder(1024);

    private RgCounter(Settings settings, TokenCounter tokenizer, ChatSplit split, String templateName) {
        this.settings = settings;
        this.tokenizer = tokenizer;
        this.split = split;
        this.templateName = templateName;
        this.prompt = settings.promptTemplate() != null ? Template.parse("--prompt-template", settings.promptTemplate())
                : Template.field(settings.promptField());
        this.completion = settings.completionTemplate() != null
                ? Template.parse("--completion-template", settings.completionTemplate())
                : Template.field(settings.completionField());
    }

    /**
     * Opens the tokenizer and the chat template.
     *
     * @param settings what to count
     * @return the counter
     * @throws IllegalArgumentException for an unknown tokenizer or template, a bad field template
     * @throws IOException if a tokenizer or template file cannot be read
     */
    public static RgCounter open(Settings settings) throws IOException {
        ChatSplit split = null;
        String templateName = null;
        if (settings.method() == Method.ARTICLE) {
            ChatTemplate t = settings.chatTemplate() != null
                    ? ChatTemplate.open(settings.chatTemplate(), settings.bosToken(), settings.eosToken())
                    : ChatTemplate.plain(settings.messagesField() != null ? "\n" : "");
            templateName = t.name();
            split = new ChatSplit(t, settings.messagesField() != null ? settings.completionRoles() : Set.of(ASSISTANT),
                    settings.exactRender());
        }
        TokenCounter tokenizer = TokenCounter.open(settings.tokenizer(), settings.addSpecialTokens());
        try {
            return new RgCounter(settings, tokenizer, split, templateName);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** @return the top-level fields every record must have (a Parquet file's columns are checked for them) */
    public List<String> requiredFields() {
        if (settings.messagesField() != null) {
            return List.of(settings.messagesField());
        }
        List<String> out = new ArrayList<>(prompt.fields);
        for (String f : completion.fields) {
            if (!out.contains(f)) {
                out.add(f);
            }
        }
        return out;
    }

    /** @return the tokenizer, for reports */
    public String tokenizerName() {
        return tokenizer.description();
    }

    /** @return the counting method, for reports: which method, which template */
    public String methodDescription() {
        if (split == null) {
            return "separate (prompt and completion tokenized apart, no chat template)";
        }
        if (settings.chatTemplate() == null) {
            return "article (prompt and completion concatenated"
                    + (settings.messagesField() != null ? " with newlines" : "")
                    + ", tokenized once, split at the prompt's character length)";
        }
        return "article (chat template " + templateName + ", tokenized once, split at the prompt's character length)";
    }

    /** @return examples rendered by the template engine (the rest were assembled from a shape's pieces) */
    public long templateRenders() {
        return split == null ? 0 : split.rendered();
    }

    /**
     * @return checked examples whose rendering assembled from pieces differed from the template engine's: the
     *     template reads the contents, and examples assembled before may be off ({@code --exact-render})
     */
    public long templateMismatches() {
        return split == null ? 0 : split.mismatches();
    }

    /**
     * Counts one record.
     *
     * @param record a JSON object
     * @return the counts, or the problem
     */
    public Counted count(JsonNode record) {
        List<ChatSplit.Message> messages = new ArrayList<>();
        String problem = settings.messagesField() != null ? messages(record, messages) : fields(record, messages);
        if (problem != null) {
            return new Counted(0, 0, problem);
        }
        if (split == null) {
            StringBuilder p = new StringBuilder();
            StringBuilder c = new StringBuilder();
            Set<String> trained = settings.messagesField() != null ? settings.completionRoles() : Set.of(ASSISTANT);
            for (ChatSplit.Message m : messages) {
                StringBuilder target = trained.contains(m.role()) ? c : p;
                if (target.length() > 0 && settings.messagesField() != null) {
                    target.append('\n');
                }
                target.append(m.content());
            }
            return new Counted(tokenizer.count(p.toString()), tokenizer.count(c.toString()), null);
        }
        try {
            int[] pc = ChatSplit.count(tokenizer, split.render(messages));
            return new Counted(pc[0], pc[1], null);
        } catch (IllegalArgumentException e) {
            return new Counted(0, 0, e.getMessage());
        }
    }

    private String fields(JsonNode record, List<ChatSplit.Message> out) {
        StringBuilder sb = text;
        sb.setLength(0);
        String problem = prompt.render(record, sb);
        if (problem != null) {
            return problem;
        }
        out.add(new ChatSplit.Message(USER, sb.toString()));
        sb.setLength(0);
        problem = completion.render(record, sb);
        out.add(new ChatSplit.Message(ASSISTANT, sb.toString()));
        return problem;
    }

    private String messages(JsonNode record, List<ChatSplit.Message> out) {
        String field = settings.messagesField();
        JsonNode messages = record.get(field);
        if (messages == null || !messages.isArray()) {
            return "field '" + field + "' is missing or not an array";
        }
        int i = 0;
        for (JsonNode msg : messages) {
            JsonNode role = msg.get("role");
            JsonNode content = msg.get("content");
            if (role == null || !role.isTextual() || content == null || !(content.isTextual() || content.isNull())) {
                return String.format(Locale.ROOT, "message %d of '%s' needs a string \"role\" and a string \"content\"",
                        i, field);
            }
            out.add(new ChatSplit.Message(role.asText(), content.isNull() ? "" : content.asText()));
            i++;
        }
        return null;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    /** A text made of literal parts and {@code {field}} placeholders. */
    static final class Template {
        private final List<String> literals;
        private final List<String> fields;

        private Template(List<String> literals, List<String> fields) {
            this.literals = literals;
            this.fields = fields;
        }

        static Template field(String name) {
            if (name.isEmpty()) {
                throw new IllegalArgumentException("field name must not be empty");
            }
            return new Template(List.of("", ""), List.of(name));
        }

        static Template parse(String option, String template) {
            String t = template.replace("{{", "\u0000").replace("}}", "\u0001")
                    .replace("\\n", "\n").replace("\\t", "\t");
            List<String> literals = new ArrayList<>();
            List<String> fields = new ArrayList<>();
            Matcher m = PLACEHOLDER.matcher(t);
            int last = 0;
            while (m.find()) {
                literals.add(unescape(t.substring(last, m.start())));
                fields.add(m.group(1));
                last = m.end();
            }
            String tail = t.substring(last);
            if (tail.indexOf('{') >= 0 || tail.indexOf('}') >= 0
                    || literals.stream().anyMatch(s -> s.indexOf('{') >= 0 || s.indexOf('}') >= 0)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s has an unmatched brace (write {{ or }} for a literal one): '%s'", option, template));
            }
            if (fields.isEmpty()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s must name at least one {field}, was '%s'", option, template));
            }
            literals.add(unescape(tail));
            return new Template(literals, fields);
        }

        private static String unescape(String s) {
            return s.replace('\u0000', '{').replace('\u0001', '}');
        }

        /** Appends the rendered text; returns null or the problem (a missing or non-scalar field). */
        String render(JsonNode node, StringBuilder sb) {
            for (int i = 0; i < fields.size(); i++) {
                sb.append(literals.get(i));
                JsonNode v = node.get(fields.get(i));
                if (v == null) {
                    return "missing field '" + fields.get(i) + "'";
                }
                if (v.isNull()) {
                    continue; // an absent optional input ("input": null) is empty text
                }
                if (!v.isValueNode()) {
                    return "field '" + fields.get(i) + "' is not a string, number or boolean";
                }
                sb.append(v.asText());
            }
            sb.append(literals.get(fields.size()));
            return null;
        }
    }
}
