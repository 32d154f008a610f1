#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time. Needs a nightly toolchain
# (libFuzzer's instrumentation uses nightly-only compiler flags): without one
# it says so and exits 0, so CI on a stable-only machine skips it.
#
#   fuzz/run.sh                      # each target for FUZZ_SECONDS (default 30)
#   FUZZ_SECONDS=3600 fuzz/run.sh    # longer
#   fuzz/run.sh redact policy        # only some targets
#
# New inputs libFuzzer finds go to fuzz/work/<target>/ (not committed); the
# curated seeds in fuzz/corpus/<target>/ are read, never written. A crash
# leaves its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-30}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(redact policy config tool_args)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain (cargo +nightly); skipping ${targets[*]}"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked
fi

for target in "${targets[@]}"; do
    mkdir -p "work/$target"
    echo "fuzz: $target for ${seconds}s"
    # -timeout: one input taking longer than 20 s is a hang; -rss_limit_mb: a leak.
    # tool_args keeps a server, its runtime threads and buffers alive across
    # inputs, which LeakSanitizer's per-input check mistakes for leaks; so does
    # its check at exit, which once found a buffer a runtime thread was
    # growing as the process ended (libFuzzer's flag covers only the former).
    extra=()
    asan="${ASAN_OPTIONS:-}"
    if [ "$target" = tool_args ]; then
        extra=(-detect_leaks=0)
        asan="${asan:+$asan:}detect_leaks=0"
    fi
    set +e
    ASAN_OPTIONS="$asan" cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 "${extra[@]}" \
        >"work/$target.log" 2>&1
    status=$?
    set -e
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|==[0-9]+== ?ERROR)' "work/$target.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "work/$target.log"
        echo "fuzz: $target FAILED (exit $status); see fuzz/work/$target.log and fuzz/artifacts/$target/"
        exit 1
    fi
done
echo "fuzz: all targets ran ${seconds}s without a failure"
