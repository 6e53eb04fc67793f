#!/bin/sh
# unified: the runner itself while 1, 8, 32 and 64 agents stream at once (dispatch-unified,
# one agent per configured name, each `head -c SHARE /dev/zero`), BENCH_UNIFIED_BYTES in total
# per configuration (default 1 GiB), console to /dev/null, logs on disk. The runner's own CPU
# (user + system) and peak RSS come from its getrusage(RUSAGE_SELF), which it logs at the end of
# every run (runner.log: "runner cpu … s …, max rss … KiB"): the agents' CPU is not counted.
# BENCH_ROUNDS rounds per configuration (default 5), each settled (bench/common), medians.
set -eu
build=$(cd "$1" && pwd)
rounds=${BENCH_ROUNDS:-5}
total=${BENCH_UNIFIED_BYTES:-1073741824}
counts=${BENCH_UNIFIED_AGENTS:-"1 8 32 64"}
docs=$(cd "$(dirname "$0")/../docs" && pwd)
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"

root_or_skip "unified: the runner under many agents" || exit 0

bench_user fbenchu
runs=/home/$user/.local/state/fleet-dispatch/runs
ln -s "$build/bin/dispatch" "$work/dispatch-unified"


: >"$work/results"
# unified_config FILE N SHARE TOP: N agents streaming SHARE bytes each, TOP before them.
unified_config() {
    {
        printf 'user = "%s"\nmax_parallel = %s\ngrace = "5s"\n%bunified = [' "$user" "$2" "$4"
        i=1
        while [ "$i" -le "$2" ]; do
            printf '"a%s"%s' "$i" "$(if [ "$i" -lt "$2" ]; then echo ', '; fi)"
            i=$((i + 1))
        done
        printf ']\n'
        i=1
        while [ "$i" -le "$2" ]; do
            printf '[agents.a%s]\ncommand = ["/usr/bin/head", "-c", "%s", "/dev/zero"]\n' "$i" "$3"
            i=$((i + 1))
        done
    } >"$1"
    chmod 644 "$1"
}
# sample_run CONFIG SAMPLES: one settled run, its runner's CPU and peak RSS appended to SAMPLES.
sample_run() {
    rm -rf "$runs"
    settle $((total + total / 2))
    "$work/dispatch-unified" -c "$1" --console none run x >/dev/null
    sed -n 's/.*runner cpu \([0-9.]*\) s.*max rss \([0-9]*\) KiB.*/\1 \2/p' "$runs"/*/runner.log >>"$2"
}
per_gib() { # SAMPLES N: "N cpu_per_gib rss_mib" of the medians
    cpu=$(awk '{ print $1 }' "$1" | median)
    rss=$(awk '{ print $2 }' "$1" | median)
    awk -v n="$2" -v c="$cpu" -v r="$rss" -v t="$total" \
        'BEGIN { printf "%d %.3f %.1f\n", n, c / (t / 1073741824), r / 1024 }'
}
for n in $counts; do
    share=$((total / n))
    unified_config "$work/unified-$n.toml" "$n" "$share" ""
    # At 32 agents, the same runs with limits = "off" alternate with them: what limits cost.
    [ "$n" -eq 32 ] && unified_config "$work/unified-off.toml" "$n" "$share" 'limits = "off"\n'
    : >"$work/samples"
    : >"$work/samples-off"
    round=1
    while [ "$round" -le "$rounds" ]; do
        sample_run "$work/unified-$n.toml" "$work/samples"
        [ "$n" -eq 32 ] && sample_run "$work/unified-off.toml" "$work/samples-off"
        round=$((round + 1))
    done
    per_gib "$work/samples" "$n" >>"$work/results"
    [ "$n" -eq 32 ] && per_gib "$work/samples-off" "$n" >"$work/results-off"
done
rm -rf "$runs"

gib=$(awk -v t="$total" 'BEGIN { printf "%.2f", t / 1073741824 }')
echo "## unified: the runner under many agents"
echo
echo "dispatch-unified with N agents streaming at once, $gib GiB in total per run split evenly"
echo "(each agent \`head -c SHARE /dev/zero\`), logs on disk, console off; the runner's own CPU"
echo "and peak RSS from getrusage(RUSAGE_SELF) as it logs them; medians of $rounds runs, each"
echo "settled as the capture samples are; every agent in its own cgroup (the default limits)."
echo "Source: \`bench/unified.sh\`."
echo
echo "| Agents | Runner CPU (s per GiB) | Runner peak RSS (MiB) |"
echo "|---|---|---|"
awk '{ printf "| %d | %.3f | %.1f |\n", $1, $2, $3 }' "$work/results"
echo
agents_chart "$docs/bench-unified.svg" "dispatch-unified: runner CPU and memory by number of agents" \
    "$work/results"
echo
at32=$(awk '$1 == 32' "$work/results")
if [ -n "$at32" ]; then
    cpu32=$(echo "$at32" | awk '{ print $2 }')
    rss32=$(echo "$at32" | awk '{ print $3 }')
    v_cpu=$(awk -v c="$cpu32" 'BEGIN { print (c < 0.5 ? "met" : "missed") }')
    v_rss=$(awk -v r="$rss32" 'BEGIN { print (r < 16 ? "met" : "missed") }')
    echo "Goals at 32 agents: runner CPU under 0.5 s per GiB: measured $cpu32 s, **$v_cpu**;"
    echo "peak RSS under 16 MiB: measured $rss32 MiB, **$v_rss**. Every agent ran in its own"
    echo "cgroup (the default limits); the same rounds with \`limits = \"off\"\`, alternating:"
    echo "$(awk '{ printf "%.3f s per GiB, %.1f MiB", $2, $3 }' "$work/results-off")."
fi
