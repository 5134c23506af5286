#!/usr/bin/env bash
# plw4j CUDA check for a GPU machine (H100/H200 with CUDA, PyTorch, CuPy; no Java, no Maven, no
# network). Everything Java comes in carry/plw4j-gpu-bundle.tar.gz, made on a CPU machine by
# cuda/scripts/prepare-gpu-bundle.sh. Through the device tool, from the repository root:
#
#     cuda/scripts/prepare-gpu-bundle.sh                       # here, once (about 25 MiB)
#     run(command="bash cuda/gpu-check.sh", carry=["carry"], timeout_s=420)
#
# Steps (each with its own time limit; the whole check takes about 2 to 4 minutes):
#   1. unpack the jlink-ed JRE and the jars; nvidia-smi;
#   2. GpuCheck probe: the device as the driver API sees it, or why CUDA is not usable;
#   3. JUnit on the GPU: the kernel contract suite (CudaKernelContractTest, when the core test jar
#      has org.plw4j.kernel.LossKernelContract), the agreement suite against the reference kernel
#      (CudaVsReferenceTest), backend selection and the bundled PTX; both suites include the
#      extensions of SPEC section 7 (label smoothing, z-loss, soft-capping, alone and together, every
#      dtype and layout, finite-difference gradient checks) on the _ext_ kernels;
#   4. GpuCheck compare: CUDA against the CPU reference on pseudo-random logits, fp32 and bf16,
#      V = 32000, 128256, 256000 (loss, arg-max, gradient, repeatability, device paths, sums), then
#      each extension alone (V = 32000) and all three (V = 128256, device paths too);
#   5. GpuCheck bench: forward and forward+gradient for (B*N, V) = (16384, 128256) and (8192, 32000),
#      fp32 and bf16, a device-to-device copy of the same size for the bandwidth ceiling; then the
#      extensions against the plain kernel at (16384, 128256) ('bench-ext' lines: ratios and targets);
#   6. cuda/scripts/torch_ce_bench.py: torch F.cross_entropy (reduction='none', weights applied)
#      forward and forward+backward on identical inputs;
#   7. cuda/scripts/make_gpu_report.py writes cuda/GPU_RESULTS.md (device, driver, numbers, ratios,
#      targets), also copied to $OUT (the device tool brings back only $OUT) and printed last.
# Exit status: 0 when every step ran and every correctness check passed, 1 otherwise.
#
# Options (environment): PLW4J_GPU_BUNDLE (default carry/plw4j-gpu-bundle.tar.gz),
# PLW4J_GPU_WORK (default /tmp/plw4j-gpu), PLW4J_GPU_QUICK=1 (small sizes), PLW4J_GPU_DRY_RUN=1 (run
# every step even when the probe finds no device: on a CPU machine the JUnit step then runs the
# PTX checks and skips the GPU suites, GpuCheck exits with the probe's reason; checks the script).
set -uo pipefail
t0=$(date +%s)
repo=$(cd "$(dirname "$0")/.." && pwd)
bundle=${PLW4J_GPU_BUNDLE:-$repo/carry/plw4j-gpu-bundle.tar.gz}
work=${PLW4J_GPU_WORK:-/tmp/plw4j-gpu}
out=${OUT:-$work/out}
quick=()
[ "${PLW4J_GPU_QUICK:-0}" = 1 ] && quick=(--quick)
status=0
log() { echo "[gpu-check $(( $(date +%s) - t0 ))s] $*"; }

rm -rf "$work" && mkdir -p "$work/tmp" "$out"
if [ ! -f "$bundle" ]; then
    echo "gpu-check: no bundle at $bundle; run cuda/scripts/prepare-gpu-bundle.sh on a CPU machine and carry 'carry'" >&2
    exit 2
fi
tar xzf "$bundle" -C "$work" || { echo "gpu-check: cannot unpack $bundle" >&2; exit 2; }
java="$work/jre/bin/java"
cp=$(ls "$work"/lib/*.jar | grep -v junit-platform-console | paste -sd: -)
jopts=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g
       -Djava.io.tmpdir="$work/tmp" -Dplw4j.cuda.workDir="$work/test")
rm -f "$out/java.jsonl" "$out/torch.jsonl"
log "bundle unpacked: $("$java" -version 2>&1 | head -1)"

# 1. the machine
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -q > "$out/nvidia-smi.txt" 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$out/check.log"
else
    echo "no nvidia-smi" > "$out/nvidia-smi.txt"
fi

# 2. probe
log "probe"
timeout 120 "$java" "${jopts[@]}" -cp "$cp" org.plw4j.cuda.GpuCheck probe --out "$out/java.jsonl" 2>&1 | tee -a "$out/check.log"
usable=$?
cat "$out/java.jsonl"
[ "$usable" = 0 ] || status=1
[ "${PLW4J_GPU_DRY_RUN:-0}" = 1 ] && usable=0

if [ "$usable" = 0 ]; then
    # 3. JUnit on the GPU
    log "JUnit: contract, agreement, backend selection, PTX"
    # explicit classes: package scanning inside jars needs the jdk.zipfs module, not in the JRE
    selects=()
    for c in CudaKernelContractTest CudaVsReferenceTest CudaBackendSelectionTest PtxTest; do
        if python3 -c "import sys, zipfile; sys.exit(0 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).namelist() else 1)" \
                "$work/lib/plw4j-cuda-tests.jar" "org/plw4j/cuda/$c.class"; then
            selects+=(--select-class "org.plw4j.cuda.$c")
        else
            echo "($c not in the test jar: not run)" | tee -a "$out/check.log"
        fi
    done
    timeout 150 "$java" "${jopts[@]}" -Dplw4j.cuda.sourceDir="$repo/cuda/src/main/cuda" \
        -jar "$work/lib/junit-platform-console-standalone.jar" execute --disable-banner --disable-ansi-colors \
        --details=tree --class-path "$cp" "${selects[@]}" > "$out/junit.txt" 2>&1
    [ $? = 0 ] || status=1
    tail -15 "$out/junit.txt"

    # 4. correctness against the CPU reference
    log "compare"
    timeout 150 "$java" "${jopts[@]}" -cp "$cp" org.plw4j.cuda.GpuCheck compare "${quick[@]}" --out "$out/java.jsonl" \
        2>&1 | tee -a "$out/check.log"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1

    # 5. speed
    log "bench"
    timeout 120 "$java" "${jopts[@]}" -cp "$cp" org.plw4j.cuda.GpuCheck bench "${quick[@]}" --out "$out/java.jsonl" \
        2>&1 | tee -a "$out/check.log"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

# 6. PyTorch baseline on identical inputs
log "torch"
if [ "$usable" = 0 ]; then
    PYTHONUNBUFFERED=1 timeout 150 python3 "$repo/cuda/scripts/torch_ce_bench.py" "${quick[@]}" --out "$out/torch.jsonl" \
        2>&1 | tee -a "$out/check.log"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
else
    python3 "$repo/cuda/scripts/torch_ce_bench.py" --selftest > "$out/torch.jsonl" 2>&1
fi

# 7. report
log "report"
python3 "$repo/cuda/scripts/make_gpu_report.py" --java "$out/java.jsonl" --torch "$out/torch.jsonl" \
    --junit "$out/junit.txt" --smi "$out/nvidia-smi.txt" --seconds $(( $(date +%s) - t0 )) \
    --out "$out/GPU_RESULTS.md" > /dev/null || status=1
[ "${PLW4J_GPU_DRY_RUN:-0}" = 1 ] || cp "$out/GPU_RESULTS.md" "$repo/cuda/GPU_RESULTS.md" 2>/dev/null
cat "$out/GPU_RESULTS.md"
log "done, status $status"
exit $status
