#!/bin/sh
# Builds core's one native library, the JNI shim of org.plw4j.HugePages, from plw4j_hugepages.c into
# core/src/main/resources/org/plw4j/native/linux-x86_64/libplw4j.so, where it is committed: the Maven
# build only copies it, so the core jar is the same on every machine, with or without a C compiler.
#
# The committed file was built with this script by
#   gcc (Debian 12.2.0-14+deb12u1) 12.2.0, on Debian 12 x86-64
# and the same compiler rebuilds it byte for byte (no debug information, no paths, symbols stripped
# except the JNI entry point; the build id is a hash of the contents). HugePagesTest rebuilds it and
# compares where that compiler is present. It needs only glibc's madvise and __errno_location.
#
#   sh core/src/main/c/build-native.sh            # rebuild the committed library
#   sh core/src/main/c/build-native.sh OUT.so     # build elsewhere (e.g. to compare)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../resources/org/plw4j/native/linux-x86_64/libplw4j.so}
mkdir -p "$(dirname "$out")"
cd "$here"
${CC:-gcc} -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror -s -Wl,--build-id=sha1 \
    -o "$out" plw4j_hugepages.c
