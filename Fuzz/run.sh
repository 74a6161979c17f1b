#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) over the Wire sources (and
# the one gateway or router file a target needs) and runs them for the given number of
# seconds each (default 60), two at a time (one per core; FUZZ_JOBS sets it), seeded with the tests' inputs
# (Fuzz/seeds.py). Findings (crashing inputs) land in fuzz-out/<target>/findings/; the
# summary line of each run is printed at the end. `Fuzz/run.sh 600 JSONFuzz TokenFuzz`
# runs only the targets named.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
swiftc="${SWIFT_BIN:-/opt/swift/usr/bin}/swiftc"
out=fuzz-out
mkdir -p "$out/bin"

all="FrameDecoderFuzz MessageDecoderFuzz HTTPParserFuzz WebSocketParserFuzz JSONFuzz TokenFuzz LogRecoveryFuzz"
targets="${*:-$all}"

# The sources besides Wire's that a target is built with (compiled into the same module).
extra_sources() {
    case "$1" in
        TokenFuzz) echo Sources/Gateway/Auth/AccessToken.swift ;;
        LogRecoveryFuzz) echo Sources/Router/Storage/LogFraming.swift ;;
        *) echo ;;
    esac
}

python3 Fuzz/seeds.py "$out"
for target in $targets; do
    echo "building $target"
    rm -f "$out/bin/$target"
    # shellcheck disable=SC2046
    "$swiftc" -O -g -sanitize=fuzzer,address -parse-as-library -module-name Wire \
        -I Sources/CLinux -llz4 \
        $(find Sources/Wire -name '*.swift') $(extra_sources "$target") Fuzz/FuzzSupport.swift "Fuzz/$target.swift" -o "$out/bin/$target" \
        2>&1 | grep -v -e "Cannot export local symbol" -e "ignoring import" -e "^ *|" -e "^[0-9]* |" || true
    [ -x "$out/bin/$target" ] || { echo "build of $target failed"; exit 1; }
    mkdir -p "$out/$target/corpus" "$out/$target/findings"
done

running=0
for target in $targets; do
    echo "fuzzing $target for ${seconds}s"
    "$out/bin/$target" "$out/$target/corpus" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$out/$target/findings/" -max_len=4096 > "$out/$target.log" 2>&1 &
    running=$((running + 1))
    if [ "$running" -ge "${FUZZ_JOBS:-2}" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true
status=0
for target in $targets; do
    # crash-, leak-, oom- and timeout- files are findings; a slow-unit- file only says one
    # input took long (a process paused or a loaded machine), and it is kept aside.
    findings=$(find "$out/$target/findings" -type f ! -name 'slow-unit-*' | wc -l)
    runs=$(grep -E '^stat::number_of_executed_units' "$out/$target.log" | awk '{print $2}')
    echo "$target: ${runs:-?} executions in ${seconds}s, $findings findings (log: $out/$target.log)"
    [ "$findings" -eq 0 ] || status=1
done
exit $status
