/*
 * plw4j's only native code: one JNI entry point that asks Linux to back a memory range with transparent
 * huge pages, madvise(addr, len, MADV_HUGEPAGE). Used by org.plw4j.HugePages for the gradient array that
 * computeWithGradient allocates: where THP is in "madvise" mode (the default of Debian and Ubuntu), every
 * 4 KiB page of a fresh array otherwise costs one page fault when the kernel writes it.
 *
 * Built by build-native.sh beside this file into core/src/main/resources/org/plw4j/native/linux-x86_64/
 * libplw4j.so, which is committed so that the core jar is the same on every machine (no JNI headers
 * needed: the signature is written with fixed-width types, which is the JNI ABI of jlong/jint on x86-64
 * Linux).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif

/* org.plw4j.HugePages.madviseHuge0(long address, long length): 0, or the errno of madvise. */
__attribute__((visibility("default")))
int32_t Java_org_plw4j_HugePages_madviseHuge0(void *env, void *cls, int64_t address, int64_t length) {
    (void) env;
    (void) cls;
    if (address <= 0 || length <= 0) {
        return EINVAL;
    }
    return madvise((void *) (uintptr_t) address, (size_t) length, MADV_HUGEPAGE) == 0 ? 0 : errno;
}
