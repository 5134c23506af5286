package org.plw4j.examples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A synthetic multiple-choice reading-comprehension set in the shape of RACE: a passage, a question
 * about it, four options A to D, and a one-token answer (the letter), so that the completion is one
 * token after a prompt of about a hundred: {@code Rg} about 0.01, as in the article's RACE runs.
 *
 * <p>The passage is a few sentences of a small random grammar ("the old farmer found the red boat
 * slowly .") with {@code factTypes} fact sentences placed at random among them ("the color is blue .",
 * one per type). The question asks for one of the types ("question : what is the color ?"); the
 * options are that type's four values; the answer is the letter of the value the passage states.
 * Nothing but the passage tells the answer: every letter is equally likely a priori. The grammar makes
 * part of the prompt predictable (a language model can learn it), the random word choices keep the rest
 * unpredictable, like real text.
 *
 * <p>By default the options of a type are always listed in the same order (A = the type's first value,
 * ...), so that a small model learns the task within a laptop's minutes; with {@code shuffleOptions} the
 * order is random per example and the model must also match the option text against the passage, which
 * the small CPU models here did not learn within a few hundred steps.
 *
 * <p>Tokens are words of a fixed vocabulary ({@link #vocabulary()}); id 0 is padding, id 1 the
 * beginning of the text. Generation is deterministic for a given seed.
 */
final class SyntheticRace {
    static final int PAD = 0;
    static final int BOS = 1;

    private static final String[] STRUCTURE = {
        "<pad>", "<bos>", "passage", ":", ".", "question", "what", "is", "?", "options", "answer", "the", "A", "B", "C", "D"};
    private static final String[][] TYPES = {
        {"color", "red", "blue", "green", "yellow"},
        {"animal", "cat", "dog", "owl", "fox"},
        {"city", "paris", "rome", "oslo", "lima"},
        {"food", "rice", "bread", "soup", "cake"},
    };
    private static final String[] ADJECTIVES = {"old", "young", "small", "big", "quiet", "happy", "tired", "brave"};
    private static final String[] NOUNS = {"farmer", "teacher", "girl", "boy", "doctor", "baker", "boat", "river",
        "garden", "letter", "window", "road", "house", "book", "market", "bridge"};
    private static final String[] VERBS = {"found", "saw", "painted", "carried", "visited", "opened", "watched", "left"};
    private static final String[] ADVERBS = {"slowly", "today", "again", "quickly", "there", "early"};

    private final Map<String, Integer> ids = new LinkedHashMap<>();
    private final List<String> words = new ArrayList<>();
    private final int factTypes;

    /** One example: the token ids of prompt and answer, and the answer's index 0..3. */
    static final class Example {
        final int[] tokens;
        final int promptLength;
        final int answer;

        Example(int[] tokens, int promptLength, int answer) {
            this.tokens = tokens;
            this.promptLength = promptLength;
            this.answer = answer;
        }
    }

    /**
     * @param factTypes how many fact types the passages state (and the questions choose from), 1 to 4
     */
    SyntheticRace(int factTypes) {
        if (factTypes < 1 || factTypes > TYPES.length) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "factTypes must be in [1, %d], was %d", TYPES.length, factTypes));
        }
        this.factTypes = factTypes;
        for (String w : STRUCTURE) {
            add(w);
        }
        for (String[] t : TYPES) {
            for (String w : t) {
                add(w);
            }
        }
        for (String[] list : new String[][] {ADJECTIVES, NOUNS, VERBS, ADVERBS}) {
            for (String w : list) {
                add(w);
            }
        }
    }

    private void add(String w) {
        if (ids.putIfAbsent(w, words.size()) == null) {
            words.add(w);
        }
    }

    /** @return the vocabulary size */
    int vocabularySize() {
        return words.size();
    }

    /** @return the words by id */
    List<String> vocabulary() {
        return Collections.unmodifiableList(words);
    }

    /** @return the ids of the letters A, B, C, D */
    int[] letterIds() {
        return new int[] {ids.get("A"), ids.get("B"), ids.get("C"), ids.get("D")};
    }

    /**
     * @param count how many examples
     * @param fillerSentences how many grammar sentences each passage has besides its facts
     * @param shuffleOptions whether the option order is random per example
     * @param random the source of randomness
     * @return the examples
     */
    List<Example> generate(int count, int fillerSentences, boolean shuffleOptions, Random random) {
        List<Example> out = new ArrayList<>(count);
        for (int e = 0; e < count; e++) {
            out.add(example(fillerSentences, shuffleOptions, random));
        }
        return out;
    }

    private Example example(int fillerSentences, boolean shuffleOptions, Random rnd) {
        int[] value = new int[factTypes];
        List<List<String>> sentences = new ArrayList<>();
        for (int f = 0; f < fillerSentences; f++) {
            sentences.add(fillerSentence(rnd));
        }
        for (int k = 0; k < factTypes; k++) {
            value[k] = rnd.nextInt(4);
            // insert each fact at a random place among the sentences
            sentences.add(rnd.nextInt(sentences.size() + 1),
                    List.of("the", TYPES[k][0], "is", TYPES[k][1 + value[k]], "."));
        }
        List<String> text = new ArrayList<>();
        text.add("<bos>");
        text.add("passage");
        text.add(":");
        for (List<String> s : sentences) {
            text.addAll(s);
        }
        int q = rnd.nextInt(factTypes);
        text.addAll(List.of("question", ":", "what", "is", "the", TYPES[q][0], "?", "options", ":"));
        List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3));
        if (shuffleOptions) {
            Collections.shuffle(order, rnd);
        }
        String[] letters = {"A", "B", "C", "D"};
        int answer = -1;
        for (int i = 0; i < 4; i++) {
            text.add(letters[i]);
            text.add(TYPES[q][1 + order.get(i)]);
            if (order.get(i) == value[q]) {
                answer = i;
            }
        }
        text.add("answer");
        text.add(":");
        int promptLength = text.size();
        text.add(letters[answer]);
        int[] tokens = new int[text.size()];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = ids.get(text.get(i));
        }
        return new Example(tokens, promptLength, answer);
    }

    private static List<String> fillerSentence(Random rnd) {
        List<String> s = new ArrayList<>();
        s.add("the");
        if (rnd.nextBoolean()) {
            s.add(pick(ADJECTIVES, rnd));
        }
        s.add(pick(NOUNS, rnd));
        s.add(pick(VERBS, rnd));
        s.add("the");
        if (rnd.nextBoolean()) {
            s.add(pick(ADJECTIVES, rnd));
        }
        s.add(pick(NOUNS, rnd));
        if (rnd.nextBoolean()) {
            s.add(pick(ADVERBS, rnd));
        }
        s.add(".");
        return s;
    }

    private static String pick(String[] words, Random rnd) {
        return words[rnd.nextInt(words.length)];
    }

    /**
     * @param tokens token ids
     * @return the words joined by spaces
     */
    String decode(int[] tokens) {
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(words.get(t));
        }
        return sb.toString();
    }
}
