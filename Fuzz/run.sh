#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) over the Wire sources and
# runs each for the given number of seconds (default 60), seeded with the golden vectors.
# Findings (crashing inputs) land in fuzz-out/<target>/; the summary line of each run is
# printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
swiftc="${SWIFT_BIN:-/opt/swift/usr/bin}/swiftc"
out=fuzz-out
mkdir -p "$out/bin"

for target in FrameDecoderFuzz MessageDecoderFuzz; do
    echo "building $target"
    rm -f "$out/bin/$target"
    "$swiftc" -O -g -sanitize=fuzzer,address -parse-as-library -module-name Wire \
        -I Sources/CLinux -llz4 \
        $(find Sources/Wire -name '*.swift') "Fuzz/$target.swift" -o "$out/bin/$target" \
        2>&1 | grep -v "Cannot export local symbol" || true
    [ -x "$out/bin/$target" ] || { echo "build of $target failed"; exit 1; }
    corpus="$out/$target/corpus"
    mkdir -p "$corpus" "$out/$target/findings"
    for hex in Tests/WireTests/Fixtures/*.hex; do
        name=$(basename "$hex" .hex)
        if [ "$target" = MessageDecoderFuzz ]; then
            # type (2 bytes, big-endian) + payload: drop the rest of the 12-byte header.
            xxd -r -p "$hex" | { head -c 4 | tail -c 2; tail -c +9; } > "$corpus/$name" 2>/dev/null || true
        else
            xxd -r -p "$hex" > "$corpus/$name"
        fi
    done
done

for target in FrameDecoderFuzz MessageDecoderFuzz; do
    echo "fuzzing $target for ${seconds}s"
    "$out/bin/$target" "$out/$target/corpus" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$out/$target/findings/" -max_len=4096 > "$out/$target.log" 2>&1 &
done
wait
status=0
for target in FrameDecoderFuzz MessageDecoderFuzz; do
    findings=$(ls "$out/$target/findings" | wc -l)
    runs=$(grep -E '^stat::number_of_executed_units' "$out/$target.log" | awk '{print $2}')
    echo "$target: ${runs:-?} executions in ${seconds}s, $findings findings (log: $out/$target.log)"
    [ "$findings" -eq 0 ] || status=1
done
exit $status
