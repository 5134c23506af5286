package org.plw4j;

/** Memory layout of the logits: which axis is time and which is the vocabulary. */
public enum LogitsLayout {
    /** {@code [B, N, V]}: batch, time, vocabulary (Hugging Face, PyTorch). The default. */
    NWC,
    /** {@code [B, V, N]}: batch, vocabulary, time (DL4J's RNN layout). */
    NCW
}
