package org.plw4j.cuda;

/** Thrown while probing when the CUDA backend cannot run; its message names what is missing. */
final class CudaUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CudaUnavailableException(String message) {
        super(message);
    }
}
