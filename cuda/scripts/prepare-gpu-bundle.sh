#!/usr/bin/env bash
# Builds what cuda/gpu-check.sh needs on a GPU machine (which has no Java, no Maven, no network)
# into carry/plw4j-gpu-bundle.tar.gz (git-ignored; the device tool carries it with carry=["carry"]):
#   jre/   a jlink-ed runtime: java.base, jdk.unsupported, java.logging, jdk.incubator.vector
#   lib/   plw4j-core, plw4j-cuda and their test classes, jcuda, the JCuda driver native library
#          (only libJCudaDriver from jcuda-natives), the JUnit console launcher
# ND4J and its natives are not needed there: the check drives the kernel layer with plain arrays.
#
# Environment: JLINK_JDK (default: the newest /usr/lib/jvm/temurin-*, whose runtime needs only
# glibc 2.17; else JAVA_HOME), MVN_OPTS (e.g. -o when everything is in ~/.m2 already).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
jdk=${JLINK_JDK:-$(ls -d /usr/lib/jvm/temurin-*-jdk* 2>/dev/null | sort -V | tail -1)}
jdk=${jdk:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}}
[ -x "$jdk/bin/jlink" ] || { echo "prepare-gpu-bundle: no jlink in $jdk (set JLINK_JDK)" >&2; exit 2; }
stage=cuda/target/gpu-bundle
rm -rf "$stage" && mkdir -p "$stage/lib"
# shellcheck disable=SC2086
mvn -B -q ${MVN_OPTS:-} -pl cuda -am -P gpu-bundle -DskipTests package
ver=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' pom.xml | head -1)
cp "core/target/plw4j-core-$ver.jar" "$stage/lib/plw4j-core.jar"
cp "core/target/plw4j-core-$ver-tests.jar" "$stage/lib/plw4j-core-tests.jar"
cp "cuda/target/plw4j-cuda-$ver.jar" "$stage/lib/plw4j-cuda.jar"
cp "cuda/target/plw4j-cuda-$ver-tests.jar" "$stage/lib/plw4j-cuda-tests.jar"
# jcuda-natives holds four libraries (26 MB); the driver API needs one of them.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
natives=$(readlink -f "$(ls "$stage"/lib/jcuda-natives*.jar)")
(cd "$tmp" && "$jdk/bin/jar" xf "$natives" lib && rm -f lib/*Runtime* lib/*Nvrtc* lib/*NvPTX* \
    && "$jdk/bin/jar" cf jcuda-natives-driver.jar lib)
rm "$natives"
mv "$tmp/jcuda-natives-driver.jar" "$stage/lib/"
major=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')
compress=$([ "${major%%.*}" -ge 21 ] && echo zip-9 || echo 2)
"$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,java.logging,jdk.incubator.vector \
    --compress="$compress" --strip-debug --no-header-files --no-man-pages --output "$stage/jre" 2>&1 \
    | grep -v 'Using incubator modules' || true
mkdir -p carry
tar czf carry/plw4j-gpu-bundle.tar.gz -C "$stage" jre lib
size=$(stat -c %s carry/plw4j-gpu-bundle.tar.gz)
echo "carry/plw4j-gpu-bundle.tar.gz: $((size / 1024 / 1024)) MiB (jre from $jdk, Java $major)"
ls -l "$stage/lib"
limit=$((48 * 1024 * 1024))   # the device tool carries 64 MiB in all, the working tree included
if [ "$size" -gt "$limit" ]; then
    echo "prepare-gpu-bundle: the bundle is over 48 MiB; the working tree must fit beside it in 64 MiB" >&2
    exit 1
fi
