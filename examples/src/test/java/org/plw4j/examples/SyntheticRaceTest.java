package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.plw4j.GenerationRatio;
import org.plw4j.RgSummary;

/**
 * The synthetic RACE data: the answer can be read off the passage (checked by a rule that parses the
 * words), the letters are balanced (binomial bounds: 1000 draws of p = 1/4 lie within 0.25 +- 0.05
 * with probability above 0.999), the default shape gives Rg about 0.01, and the same seed gives the
 * same data.
 */
class SyntheticRaceTest {

    @Test
    void answerFollowsFromPassageAndLettersAreBalanced() {
        for (boolean shuffle : new boolean[] {false, true}) {
            SyntheticRace race = new SyntheticRace(2);
            List<SyntheticRace.Example> data = race.generate(1000, 11, shuffle, new Random(7));
            int[] letterCount = new int[4];
            for (SyntheticRace.Example e : data) {
                String[] w = race.decode(java.util.Arrays.copyOf(e.tokens, e.promptLength)).split(" ");
                String asked = null;
                for (int i = 0; i + 1 < w.length; i++) {
                    if (w[i].equals("what")) {
                        asked = w[i + 3]; // what is the TYPE ?
                    }
                }
                String stated = null;
                for (int i = 0; i + 3 < w.length; i++) {
                    if (w[i].equals("the") && w[i + 1].equals(asked) && w[i + 2].equals("is")) {
                        stated = w[i + 3];
                    }
                }
                String expectedLetter = null;
                for (int i = 0; i + 1 < w.length; i++) {
                    if (w[i].matches("[ABCD]") && w[i + 1].equals(stated)) {
                        expectedLetter = w[i];
                    }
                }
                String answer = race.decode(new int[] {e.tokens[e.promptLength]});
                assertEquals(expectedLetter, answer, String.join(" ", w));
                assertEquals(e.tokens.length, e.promptLength + 1, "one-token completion");
                letterCount[e.answer]++;
            }
            for (int c : letterCount) {
                assertTrue(Math.abs(c / 1000.0 - 0.25) < 0.05, java.util.Arrays.toString(letterCount));
            }
        }
    }

    @Test
    void defaultShapeHasRgAboutOnePercent() {
        List<SyntheticRace.Example> data = new SyntheticRace(2).generate(500, 11, false, new Random(1));
        int[] p = new int[data.size()];
        int[] c = new int[data.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = data.get(i).promptLength;
            c[i] = 1;
        }
        RgSummary s = GenerationRatio.summarize(p, c);
        assertTrue(s.mean() > 0.007 && s.mean() < 0.013, "mean Rg " + s.mean());
    }

    @Test
    void sameSeedSameData() {
        SyntheticRace race = new SyntheticRace(3);
        List<SyntheticRace.Example> a = race.generate(20, 5, true, new Random(3));
        List<SyntheticRace.Example> b = race.generate(20, 5, true, new Random(3));
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i).tokens, b.get(i).tokens);
        }
    }
}
