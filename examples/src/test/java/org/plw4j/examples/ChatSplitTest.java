package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The article's split: rendered text, trained turns' character ranges, one tokenization, roles by
 * character offsets. Expected counts are made by hand with the word-level test tokenizer (one token per
 * word, punctuation run or special token; {@link TestTokenizers}) or, for jtokkit, by decoding prefixes
 * of the token ids; all exact.
 */
class ChatSplitTest {
    private static final List<String> SPECIALS = List.of("<s>", "</s>", "[INST]", "[/INST]", "<|im_start|>", "<|im_end|>");

    @TempDir
    Path tmp;

    private static List<ChatSplit.Message> chat(String... roleContent) {
        List<ChatSplit.Message> out = new ArrayList<>();
        for (int i = 0; i < roleContent.length; i += 2) {
            out.add(new ChatSplit.Message(roleContent[i], roleContent[i + 1]));
        }
        return out;
    }

    private TokenCounter words(boolean addSpecialTokens) throws IOException {
        return TokenCounter.open(TestTokenizers.wordLevel(tmp, SPECIALS, "<s>", "</s>").toString(), addSpecialTokens);
    }

    @Test
    void llama2SingleTurnAsInTheArticle() throws IOException {
        ChatSplit split = new ChatSplit(ChatTemplate.open("llama-2", null, null), Set.of("assistant"), false);
        ChatSplit.Rendered r = split.render(chat("user", "what is two plus two", "assistant", "four"));
        assertEquals("<s>[INST] what is two plus two [/INST] four </s>", r.text());
        // the prompt rendered alone ends with [/INST]: the space before the answer is completion text
        assertArrayEquals(new int[] {"<s>[INST] what is two plus two [/INST]".length()}, r.completionStarts());
        assertArrayEquals(new int[] {r.text().length()}, r.completionEnds());
        try (TokenCounter tok = words(false)) {
            // <s> [INST] what is two plus two [/INST] | four </s>
            assertArrayEquals(new int[] {8, 2}, ChatSplit.count(tok, r));
        }
    }

    @Test
    void boundaryInsideATokenCountsItAsCompletion() throws IOException {
        ChatSplit split = new ChatSplit(ChatTemplate.plain(""), Set.of("assistant"), false);
        ChatSplit.Rendered r = split.render(chat("user", "Please say", "assistant", "ing hi"));
        assertEquals("Please saying hi", r.text());
        try (TokenCounter tok = words(false)) {
            // "Please" ends at 6 <= 10: prompt; "saying" [7, 13) straddles 10: completion; "hi": completion
            assertArrayEquals(new int[] {1, 2}, ChatSplit.count(tok, r));
        }
    }

    @Test
    void addedSpecialTokensWithEmptyOffsetsTakeTheRoleBeforeThem() throws IOException {
        ChatSplit split = new ChatSplit(ChatTemplate.plain(""), Set.of("assistant"), false);
        ChatSplit.Rendered r = split.render(chat("user", "a b ", "assistant", "c"));
        try (TokenCounter tok = words(true)) {
            // BOS(empty) a b | c EOS(empty): BOS has no token before it -> prompt; EOS follows c -> completion
            TokenCounter.Spans s = tok.spans(r.text());
            assertEquals(5, s.count());
            assertEquals(s.starts()[0], s.ends()[0]);
            assertEquals(s.starts()[4], s.ends()[4]);
            assertArrayEquals(new int[] {3, 2}, ChatSplit.count(tok, r));
        }
    }

    @Test
    void multiTurnEveryTrainedTurnIsCompletion() throws IOException {
        ChatSplit split = new ChatSplit(ChatTemplate.open("chatml", null, null), Set.of("assistant"), false);
        List<ChatSplit.Message> conversation = chat("system", "be brief", "user", "what is two plus two",
                "assistant", "four", "user", "and three", "assistant", "three is odd");
        ChatSplit.Rendered r = split.render(conversation);
        try (TokenCounter tok = words(false)) {
            // prompt: <|im_start|> system be brief <|im_end|> (5), <|im_start|> user what is two plus two
            // <|im_end|> (8), <|im_start|> assistant (2), <|im_start|> user and three <|im_end|> (5),
            // <|im_start|> assistant (2) = 22; completion: four <|im_end|> (2), three is odd <|im_end|> (4) = 6
            assertArrayEquals(new int[] {22, 6}, ChatSplit.count(tok, r));
        }
        // trained roles are a choice: with the user's turns trained too
        ChatSplit both = new ChatSplit(ChatTemplate.open("chatml", null, null), Set.of("assistant", "user"), false);
        try (TokenCounter tok = words(false)) {
            // the generation prompt opens an assistant turn, so a user turn starts after the previous turn
            // ends: each user turn, header included, joins the completion (8 + 5 tokens)
            assertArrayEquals(new int[] {9, 19}, ChatSplit.count(tok, both.render(conversation)));
        }
    }

    @Test
    void piecesGiveWhatTheEngineGives() throws IOException {
        // Each built-in, conversations of one shape with varied contents (edges with spaces, newlines, NBSP,
        // braces): the assembled rendering must equal the engine's for every one, verified or not.
        List<List<ChatSplit.Message>> chats = new ArrayList<>();
        String[] contents = {"plain", "  padded \n", "\u00a0nbsp\u00a0", "{{ x }} {% if %}", "", "multi\nline\n\n", "\t"};
        for (String a : contents) {
            for (String b : contents) {
                chats.add(chat("user", a, "assistant", b, "user", b + a, "assistant", a));
            }
        }
        for (String name : ChatTemplate.BUILT_IN) {
            ChatSplit fast = new ChatSplit(ChatTemplate.open(name, null, null), Set.of("assistant"), false);
            ChatSplit exact = new ChatSplit(ChatTemplate.open(name, null, null), Set.of("assistant"), true);
            for (List<ChatSplit.Message> c : chats) {
                assertEquals(exact.render(c), fast.render(c), name + " " + c);
            }
            assertTrue(fast.assembled() > chats.size() / 2, name + ": assembled " + fast.assembled());
            assertEquals(chats.size(), exact.rendered());
        }
    }

    @Test
    void aTemplateThatReadsTheContentsIsCaughtOnACheckedExample() throws IOException {
        Path jinja = tmp.resolve("t.jinja");
        java.nio.file.Files.writeString(jinja,
                "{% for m in messages %}{% if 'secret' in m.content %}[hidden]{% else %}{{ m.content }}{% endif %}|{% endfor %}");
        ChatSplit split = new ChatSplit(ChatTemplate.open(jinja.toString(), null, null), Set.of("assistant"), false);
        for (int i = 0; i < ChatSplit.VERIFIED_PER_SHAPE - 1; i++) {
            split.render(chat("user", "q" + i, "assistant", "a" + i));
        }
        // a verified example that the pieces get wrong: the shape is rendered by the engine from then on
        assertEquals("q|[hidden]|", split.render(chat("user", "q", "assistant", "a secret")).text());
        assertEquals(1, split.mismatches());
        long rendered = split.rendered();
        assertEquals("q|[hidden]|", split.render(chat("user", "q", "assistant", "my secret")).text());
        assertEquals(rendered + 1, split.rendered());
        // without a mismatch, examples are still rendered both ways: the CHECK_EVERYth after the verified ones,
        // then one twice as far on (the 3 * CHECK_EVERYth)
        ChatSplit plain = new ChatSplit(ChatTemplate.open("chatml", null, null), Set.of("assistant"), false);
        int n = ChatSplit.VERIFIED_PER_SHAPE + 3 * ChatSplit.CHECK_EVERY + 5;
        for (int i = 0; i < n; i++) {
            plain.render(chat("user", "q" + i, "assistant", "a" + i));
        }
        assertEquals(ChatSplit.VERIFIED_PER_SHAPE + 2, plain.rendered());
        assertEquals(n - ChatSplit.VERIFIED_PER_SHAPE - 2, plain.assembled());
        assertEquals(0, plain.mismatches());
    }

    @Test
    void aTemplateThatRendersAPrefixDifferentlyIsReported() throws IOException {
        Path jinja = tmp.resolve("t.jinja");
        java.nio.file.Files.writeString(jinja, "{% for m in messages %}{{ m.content }}{% endfor %}{{ messages | length }}");
        ChatSplit split = new ChatSplit(ChatTemplate.open(jinja.toString(), null, null), Set.of("assistant"), false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> split.render(chat("user", "q", "assistant", "a")));
        assertTrue(e.getMessage().contains("up to message 1 (assistant) differently"), e.getMessage());
    }

    @Test
    void jtokkitOffsetsAreUtf8BytesAndMatchDecodedPrefixes() throws IOException {
        Encoding enc = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        ChatSplit split = new ChatSplit(ChatTemplate.plain(""), Set.of("assistant"), false);
        String[][] examples = {{"Answer:", " B"}, {"naïve café ", "résumé"}, {"emoji \uD83D\uDE00", "\uD83D\uDE00 done"},
            {"日本語の", "文章です"}, {"", "only completion"}, {"only prompt", ""}};
        try (TokenCounter tok = TokenCounter.open("cl100k_base", false)) {
            for (String[] ex : examples) {
                IntArrayList ids = enc.encodeOrdinary(ex[0] + ex[1]);
                int promptBytes = ex[0].getBytes(StandardCharsets.UTF_8).length;
                int prompt = 0;
                IntArrayList prefix = new IntArrayList();
                for (int k = 0; k < ids.size(); k++) {
                    prefix.add(ids.get(k));
                    if (enc.decodeBytes(prefix).length <= promptBytes) {
                        prompt++;
                    }
                }
                assertArrayEquals(new int[] {prompt, ids.size() - prompt},
                        ChatSplit.count(tok, split.render(chat("user", ex[0], "assistant", ex[1]))), ex[0] + "|" + ex[1]);
            }
            // a lone surrogate is 3 bytes, as jtokkit 1.1.0 encodes it (its code point; decodeBytes(encodeOrdinary(
            // "a\uD800b")) has 5 bytes when the JVM runs without -ea: with assertions on, jtokkit rejects it)
            assertEquals(5, TokenCounter.utf8Length("a\uD800b", 0, 3));
            assertEquals(3, TokenCounter.utf8Length("\uDC00", 0, 1));
        }
    }

    @Test
    void theSplitIsOfCharOffsetsRuleOnRandomSpans() {
        // Random token spans (empty ones included, ends not always ascending) and random turns: the counts
        // must be those of PromptCompletionMask.ofCharOffsets with one row per turn start and one per turn end
        // (completion: COMPLETION at the start's row and PROMPT at the end's row), offsets in UTF-16 units.
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int trial = 0; trial < 2000; trial++) {
            int len = 1 + rnd.nextInt(60);
            String text = "x".repeat(len);
            int n = rnd.nextInt(12);
            int[] starts = new int[n];
            int[] ends = new int[n];
            for (int k = 0; k < n; k++) {
                starts[k] = rnd.nextInt(len + 1);
                ends[k] = rnd.nextInt(4) == 0 ? starts[k] : Math.min(len, starts[k] + rnd.nextInt(8));
            }
            int turns = rnd.nextInt(4);
            int[] cuts = rnd.ints(2L * turns, 0, len + 1).sorted().toArray();
            int[] cs = new int[turns];
            int[] ce = new int[turns];
            for (int i = 0; i < turns; i++) {
                cs[i] = cuts[2 * i];
                ce[i] = cuts[2 * i + 1];
            }
            TokenCounter fixed = new TokenCounter() {
                @Override
                public int count(String t) {
                    return n;
                }

                @Override
                public Spans spans(String t) {
                    return new Spans(starts, ends);
                }

                @Override
                public int offsetBetween(String t, int from, int to) {
                    return to - from;
                }

                @Override
                public String description() {
                    return "fixed";
                }

                @Override
                public void close() {
                }
            };
            int completion = 0;
            if (n > 0 && turns > 0) {
                int[][] rs = new int[2 * turns][];
                int[][] re = new int[2 * turns][];
                int[] boundaries = new int[2 * turns];
                for (int i = 0; i < turns; i++) {
                    rs[2 * i] = starts;
                    rs[2 * i + 1] = starts;
                    re[2 * i] = ends;
                    re[2 * i + 1] = ends;
                    boundaries[2 * i] = cs[i];
                    boundaries[2 * i + 1] = ce[i] >= len ? Integer.MAX_VALUE : ce[i];
                }
                org.plw4j.PromptCompletionMask roles = org.plw4j.PromptCompletionMask.ofCharOffsets(rs, re, boundaries,
                        n, org.plw4j.Padding.RIGHT);
                for (int k = 0; k < n; k++) {
                    for (int i = 0; i < turns; i++) {
                        if (roles.role(2 * i, k) == org.plw4j.TokenRole.COMPLETION
                                && roles.role(2 * i + 1, k) == org.plw4j.TokenRole.PROMPT) {
                            completion++;
                            break;
                        }
                    }
                }
            }
            assertArrayEquals(new int[] {n - completion, completion},
                    ChatSplit.count(fixed, new ChatSplit.Rendered(text, cs, ce)),
                    "trial " + trial + ": starts " + java.util.Arrays.toString(starts) + " ends "
                            + java.util.Arrays.toString(ends) + " turns " + java.util.Arrays.toString(cuts));
        }
    }
}
