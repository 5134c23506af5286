package org.plw4j.cuda;

import java.util.Locale;

/** A one-line JSON object writer for {@link GpuCheck}'s results (the GPU bundle carries no JSON library). */
final class Json {
    private final StringBuilder sb = new StringBuilder("{");

    private Json key(String k) {
        if (sb.length() > 1) {
            sb.append(',');
        }
        sb.append('"').append(k).append("\":");
        return this;
    }

    Json put(String k, String v) {
        key(k);
        if (v == null) {
            sb.append("null");
            return this;
        }
        sb.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        sb.append('"');
        return this;
    }

    Json put(String k, long v) {
        key(k).sb.append(v);
        return this;
    }

    Json put(String k, boolean v) {
        key(k).sb.append(v);
        return this;
    }

    /** Non-finite doubles become strings ("NaN", "Infinity"), which JSON has no numbers for. */
    Json put(String k, double v) {
        if (Double.isFinite(v)) {
            key(k).sb.append(String.format(Locale.ROOT, "%.9g", v));
            return this;
        }
        return put(k, Double.toString(v));
    }

    @Override
    public String toString() {
        return sb.toString() + "}";
    }
}
