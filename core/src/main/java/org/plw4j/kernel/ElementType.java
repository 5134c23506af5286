package org.plw4j.kernel;

/** Element type of a {@link Memory}: the logits' floating-point format. */
public enum ElementType {
    /** IEEE 754 binary32. */
    FLOAT32(4),
    /** IEEE 754 binary64. */
    FLOAT64(8),
    /** IEEE 754 binary16 (ND4J {@code HALF}). */
    FLOAT16(2),
    /** bfloat16: the upper 16 bits of a binary32 (ND4J {@code BFLOAT16}). */
    BFLOAT16(2);

    private final int bytes;

    ElementType(int bytes) {
        this.bytes = bytes;
    }

    /** @return the size of one element in bytes */
    public int bytes() {
        return bytes;
    }
}
