#!/bin/sh
# dispatch: capture throughput, per-run overhead, and `list` over 10,000 runs.
#
# Capture: BENCH_CAPTURE_BYTES (default 2 GiB) of a file through dispatch (agent: cat FILE,
# confined, stdout to /dev/null, log on disk) against `cat FILE | tee LOG > /dev/null`, against the same
# pipe without a log (`cat FILE | cat > /dev/null`) and against `cat FILE > /dev/null`; then
# dispatch and tee again with their stdout on a pipe read by cat. Each sample starts settled
# (bench/common); BENCH_ROUNDS rounds (default 7), the order rotated each round, medians of
# wall time and of CPU seconds (user + system, children included).
# Overhead: dispatch with a no-op agent (confined: the default) against the no-op alone
# (hyperfine, medians).
# list: 10,000 finished runs, `list --json --limit 0` and the default `list`.
set -eu
build=$1
docs=$(cd "$(dirname "$0")/../docs" && pwd)
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"
rounds=${BENCH_ROUNDS:-7}
size=${BENCH_CAPTURE_BYTES:-2147483648}

root_or_skip "dispatch" || exit 0

bench_user fbench
home=/home/$user
runs=$home/.local/state/fleet-dispatch/runs
head -c "$size" /dev/zero >"$work/input.bin"
chmod 644 "$work/input.bin"
dispatch="$build/bin/dispatch"

# The agent reads its input from $work: a confined agent (the default) is granted it with read.
config() { # NAME COMMAND-ARRAY
    printf 'user = "%s"\ndefault_agent = "a"\n[agents.a]\ncommand = %s\nread = ["%s"]\n' \
        "$user" "$2" "$work" >"$work/$1"
    chmod 644 "$work/$1"
}
config capture.toml "[\"/bin/cat\", \"$work/input.bin\"]"
config noop.toml '["/bin/true"]'


capture_command() {
    case "$1" in
    dispatch) echo "$dispatch -c $work/capture.toml run x >/dev/null" ;;
    tee) echo "cat $work/input.bin | tee $home/tee.log >/dev/null" ;;
    cat-pipe) echo "cat $work/input.bin | cat >/dev/null" ;;
    cat) echo "cat $work/input.bin >/dev/null" ;;
    dispatch-pipe) echo "$dispatch -c $work/capture.toml run x | cat >/dev/null" ;;
    tee-pipe) echo "cat $work/input.bin | tee $home/tee.log | cat >/dev/null" ;;
    esac
}

# --- capture ---------------------------------------------------------------------------------
methods="dispatch tee cat-pipe cat dispatch-pipe tee-pipe"
warm=$((size + size / 2))
round=0
while [ "$round" -lt "$rounds" ]; do
    for method in $methods; do
        rm -rf "$runs" "$home/tee.log"
        settle "$warm" "$work/input.bin"
        /usr/bin/time -f "%e %U %S" -o "$work/time" sh -c "$(capture_command "$method")"
        awk -v m="$method" '{ print m, $1, $2 + $3 }' "$work/time" >>"$work/capture.samples"
    done
    first=${methods%% *}
    methods="${methods#* } $first"
    round=$((round + 1))
done
rm -rf "$runs" "$home/tee.log"

wall() { awk -v m="$1" '$1 == m { print $2 }' "$work/capture.samples" | median; }
best() { awk -v m="$1" '$1 == m { print $2 }' "$work/capture.samples" | sort -n | head -n 1; }
cpu() { awk -v m="$1" '$1 == m { print $3 }' "$work/capture.samples" | median; }
mib=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1048576 }')
ratio() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN { printf "%.2f", a / b }'; }

# table REFERENCE METHOD...: one row per method, its speed against REFERENCE's.
table() {
    reference=$1
    shift
    echo "| Method | Median wall (s) | MB/s | Best wall (s) | Median CPU (s) | Speed vs dispatch |"
    echo "|---|---|---|---|---|---|"
    for method in "$@"; do
        w=$(wall "$method")
        shown=$(capture_command "$method" | sed "s|$work/||g; s|$home/||g; s|$build/bin/||; s/|/\\\\|/g")
        # shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
        printf '| `%s` | %.3f | %.0f | %.3f | %.3f | %.2f |\n' "$shown" \
            "$w" "$(awk -v s="$size" -v w="$w" 'BEGIN { print s / w / 1e6 }')" "$(best "$method")" \
            "$(cpu "$method")" "$(ratio "$reference" "$method")"
    done
}

echo "## dispatch: capture throughput"
echo
echo "$mib MiB from a file through each method; log and file on the same disk; $rounds rounds,"
echo "order rotated. Before each sample old logs are deleted, \`sync\`, the page cache dropped, the"
echo "input read back into it and $((warm / 1048576)) MiB written to tmpfs and deleted (\`settle\` in"
echo "\`bench/common\` says why), so every sample starts alike. Source: \`bench/dispatch.sh\`."
echo
echo "dispatch's stdout on \`/dev/null\`, as the goals have it:"
echo
table dispatch dispatch tee cat-pipe cat
echo
echo "The same with a reader on a pipe (SSM reads a command's output so), console on:"
echo
table dispatch-pipe dispatch-pipe tee-pipe
echo
for method in dispatch tee cat-pipe dispatch-pipe tee-pipe; do
    printf '%s %s\n' "$(echo "$method" | sed 's/cat-pipe/cat|cat/; s/dispatch-pipe/dispatch|cat/; s/tee-pipe/tee|cat/')" \
        "$(awk -v s="$size" -v w="$(wall "$method")" 'BEGIN { print s / w / 1e6 }')"
done >"$work/capture.data"
bar_chart "$docs/bench-capture.svg" "capture: $mib MiB through each method (median MB/s)" "MB/s" \
    "$work/capture.data"
echo
tee_ratio=$(ratio tee dispatch)
pipe_ratio=$(ratio cat-pipe dispatch)
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g ? "met" : "missed") }'; }
echo "Goals: at least 1.3x tee's speed: measured ${tee_ratio}x, **$(verdict "$tee_ratio" 1.3)**."
echo "At least 0.9x cat's speed: measured ${pipe_ratio}x against \`cat | cat\`, **$(verdict "$pipe_ratio" 0.9)**."
echo "The second goal is read against cat moving the same bytes through a pipe without a log"
echo "(\`gen | cat\` in [design/performance.md](design/performance.md) §3, where the goal comes from): \`cat FILE > /dev/null\` moves"
echo "them through no pipe and writes nothing, and no runner that keeps a log can match it."
echo "With a pipe console, dispatch against \`tee | cat\`: $(ratio tee-pipe dispatch-pipe)x."
echo "What makes the difference is mostly the pipes, not the copy loop: dispatch gives each agent"
echo "(and a console that is a pipe) 1 MiB where the shell pipelines keep 64 KiB, so writer and"
echo "reader no longer wake each other every 64 KiB; on this VM a wake-up across CPUs is dear."
echo "Medians are judged; the best sample is shown beside them for the spread."

# --- overhead --------------------------------------------------------------------------------
sync # the capture logs' writeback would otherwise slow every fsync below
hyperfine -N --style none --warmup 5 --runs 60 --export-json "$work/overhead.json" \
    -n dispatch "$dispatch -c $work/noop.toml run x" -n direct /bin/true >/dev/null 2>&1
med() { jq --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$work/overhead.json"; }
od=$(med dispatch)
ot=$(med direct)
added=$(awk -v a="$od" -v b="$ot" 'BEGIN { printf "%.2f", a - b }')
echo
echo "## dispatch: overhead per run"
echo
echo "A run of one no-op agent (\`/bin/true\`) as root against \`/bin/true\` alone: drop, config,"
echo "the run's PID namespace, run directory, 3 atomic status writes (2 fsyncs each), the agent's"
echo "Landlock domain, spawn, reaping. hyperfine, 60 runs."
echo
echo "| Command | Median (ms) |"
echo "|---|---|"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `dispatch run x` (agent `/bin/true`) | %.2f |\n| `/bin/true` | %.2f |\n' "$od" "$ot"
echo
echo "Goal: under 10 ms added. Measured $added ms: **$(awk -v a="$added" 'BEGIN { print (a < 10 ? "met" : "missed") }')**."

# --- list ------------------------------------------------------------------------------------
rm -rf "$runs"
template=$(mktemp)
"$dispatch" -c "$work/noop.toml" run x >/dev/null # creates the runs directory as the user
tid=$(ls "$runs")
cp "$runs/$tid/status.json" "$template"
rm -rf "${runs:?}/$tid"
seq 1 10000 | awk -v r="$runs" '{ printf "%s/20250101-%06d-bench0\n", r, $1 }' | xargs mkdir
seq 1 10000 | awk -v r="$runs" -v t="$tid" -v tmpl="$template" '
    BEGIN { while ((getline line < tmpl) > 0) text = text line "\n" }
    { id = sprintf("20250101-%06d-bench0", $1); out = r "/" id "/status.json"
      s = text; gsub(t, id, s); printf "%s", s > out; close(out) }'
rm -f "$template"
chown -R "$user:" "$runs"
sync
hyperfine -N --style none --warmup 3 --runs 20 --export-json "$work/list.json" \
    -n all "$dispatch -c $work/noop.toml list --json --limit 0" \
    -n table "$dispatch -c $work/noop.toml list" >/dev/null 2>&1
lm() { jq --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$work/list.json"; }
la=$(lm all)
lt=$(lm table)
echo
echo "## dispatch: list at 10,000 runs"
echo
echo "10,000 finished runs in the runs directory; hyperfine, 20 runs."
echo
echo "| Command | Median (ms) |"
echo "|---|---|"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `dispatch list --json --limit 0` (all 10,000) | %.1f |\n| `dispatch list` (newest 50) | %.1f |\n' "$la" "$lt"
echo
echo "Goal: under 200 ms. Measured $(printf %.1f "$la") ms for all 10,000: **$(awk -v a="$la" 'BEGIN { print (a < 200 ? "met" : "missed") }')**."
