package org.plw4j;

/** Which side of a row holds the padding. */
public enum Padding {
    /** Tokens first, padding after them (training). */
    RIGHT,
    /** Padding first, tokens after it (batched generation). */
    LEFT
}
