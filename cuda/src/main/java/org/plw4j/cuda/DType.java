package org.plw4j.cuda;

import org.plw4j.kernel.ElementType;

/** Element types the kernels read and write, with their kernel-name suffix and emulator code. */
enum DType {
    /** binary32. */
    F32(0, 4, "f32"),
    /** bfloat16. */
    BF16(1, 2, "bf16"),
    /** binary16. */
    F16(2, 2, "f16");

    final int code;
    final int bytes;
    final String suffix;

    DType(int code, int bytes, String suffix) {
        this.code = code;
        this.bytes = bytes;
        this.suffix = suffix;
    }

    /** @return elements per 16-byte vector */
    int perVector() {
        return 16 / bytes;
    }

    /**
     * @param t a memory element type
     * @return the kernel type, or null for FLOAT64 (no GPU kernel)
     */
    static DType of(ElementType t) {
        return switch (t) {
            case FLOAT32 -> F32;
            case BFLOAT16 -> BF16;
            case FLOAT16 -> F16;
            default -> null;
        };
    }
}
