#!/usr/bin/env bash
# Regenerates the PTX bundled in the plw4j-cuda jar from the kernel sources, or checks it.
#
#   cuda/scripts/regen-ptx.sh          write src/main/resources/org/plw4j/cuda/ptx/<name>.ptx
#   cuda/scripts/regen-ptx.sh check    regenerate to a temporary folder and compare byte for byte
#
# Each src/main/cuda/<name>.cu becomes one PTX module: nvcc -ptx for the virtual architecture
# compute_75 (the driver compiles it for the device at load time, sm_75 to sm_90 and newer). nvcc 13
# writes PTX ISA 9.0, which drivers before CUDA 13 reject; the kernels use nothing newer than
# ISA 8.0 (CUDA 12.0), so the '.version' line is lowered to 8.0 and ptxas then checks every
# instruction against ISA 8.0 while assembling for sm_75 and sm_90 (an instruction that needs a
# newer ISA fails here, not on a user's driver). The header records the SHA-256 of the sources
# (every *.cu and *.cuh, sorted by name, each as "name\n" + content) and the nvcc release, which
# org.plw4j.cuda.PtxTest checks on every build; where the same nvcc release is installed the test
# runs this script in 'check' mode.
#
# Environment: NVCC and PTXAS (default: nvcc and ptxas on the PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/main/cuda
dst=src/main/resources/org/plw4j/cuda/ptx
mode=${1:-write}
NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}
FLAGS=(-ptx -arch=compute_75 -std=c++17 -O3)
PTX_ISA=8.0

sources_sha256() {
    (cd "$src" && for f in $(ls -1 -- *.cu *.cuh | LC_ALL=C sort); do printf '%s\n' "$f"; cat -- "$f"; done) \
        | sha256sum | cut -d' ' -f1
}

hash=$(sources_sha256)
release=$("$NVCC" --version | grep -o 'release [0-9.]*, V[0-9.]*' | head -1)
[ -n "$release" ] || { echo "regen-ptx: cannot read the nvcc release from '$NVCC --version'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for cu in "$src"/*.cu; do
    name=$(basename "$cu" .cu)
    "$NVCC" "${FLAGS[@]}" -o "$tmp/$name.raw.ptx" "$cu"
    ver=$(grep -m1 '^\.version ' "$tmp/$name.raw.ptx" | awk '{print $2}')
    [ -n "$ver" ] || { echo "regen-ptx: no .version line in the PTX of $name" >&2; exit 2; }
    {
        echo "// plw4j-ptx: $name, generated from cuda/$src/$name.cu by cuda/scripts/regen-ptx.sh; do not edit"
        echo "// plw4j-sources-sha256: $hash"
        echo "// plw4j-nvcc: $release"
        echo "// plw4j-nvcc-flags: ${FLAGS[*]}; .version $ver lowered to $PTX_ISA"
        sed "s/^\.version $ver\$/.version $PTX_ISA/" "$tmp/$name.raw.ptx"
    } > "$tmp/$name.ptx"
    for arch in sm_75 sm_90; do
        if ! "$PTXAS" -arch=$arch -o "$tmp/$name.$arch.cubin" "$tmp/$name.ptx"; then
            echo "regen-ptx: ptxas -arch=$arch rejected $name.ptx (PTX ISA $PTX_ISA)" >&2
            exit 1
        fi
    done
    if [ "$mode" = check ]; then
        if ! cmp -s "$tmp/$name.ptx" "$dst/$name.ptx"; then
            echo "regen-ptx: $dst/$name.ptx differs from what $src/$name.cu gives; run cuda/scripts/regen-ptx.sh" >&2
            status=1
        fi
    else
        mkdir -p "$dst"
        cp "$tmp/$name.ptx" "$dst/$name.ptx"
        echo "wrote $dst/$name.ptx ($(wc -c < "$dst/$name.ptx") bytes)"
    fi
done
exit $status
