package org.plw4j.kernel;

/**
 * Conversions between {@code float} and the two 16-bit formats, bit-exact and independent of the JDK
 * version ({@code Float.float16ToFloat} only exists from JDK 20). Narrowing rounds to nearest, ties
 * to even, like IEEE 754 and like ND4J, PyTorch and CUDA's {@code __float2half_rn}/{@code __float2bfloat16_rn}.
 */
public final class Half {
    private Half() {
    }

    /**
     * Widens a binary16 value.
     *
     * @param h the 16 bits of a binary16 value
     * @return the same value as a float (exact)
     */
    public static float fp16ToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /**
     * Narrows a float to binary16, rounding to nearest even; overflow gives infinity, NaN stays NaN.
     *
     * @param f the value
     * @return the 16 bits of the nearest binary16 value
     */
    public static short floatToFp16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            // subnormal result
            int m = mant | 0x800000;
            int shift = 14 - e;
            int half = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
            half++; // may carry into the exponent, which is still correct (up to infinity)
        }
        return (short) (sign | half);
    }

    /**
     * Widens a bfloat16 value (exact).
     *
     * @param b the 16 bits of a bfloat16 value
     * @return the value as a float
     */
    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /**
     * Narrows a float to bfloat16, rounding to nearest even; NaN stays NaN.
     *
     * @param f the value
     * @return the 16 bits of the nearest bfloat16 value
     */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x7FFFFF) != 0) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
