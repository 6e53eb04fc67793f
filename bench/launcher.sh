#!/bin/sh
# Launcher start-up: fleet-launch against setpriv, runuser and sudo, each dropping root to
# nobody and running /bin/true. Goal: fleet-launch median <= setpriv median.
#
# hyperfine runs each command's samples back to back, so the comparison is made in rounds
# with the order rotated each round; the medians are taken over all samples of all rounds.
set -eu
build=$1
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"
rounds=${BENCH_ROUNDS:-5}
runs=${BENCH_RUNS:-100}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

root_or_skip "Launcher start-up" || exit 0

names="fleet-launch setpriv runuser sudo true"
command_for() {
    case "$1" in
    fleet-launch) echo "$build/bin/fleet-launch nobody /bin/true" ;;
    setpriv) echo "setpriv --reuid=nobody --regid=nogroup --init-groups --reset-env /bin/true" ;;
    runuser) echo "runuser -u nobody -- /bin/true" ;;
    sudo) echo "sudo -u nobody /bin/true" ;;
    true) echo "/bin/true" ;;
    esac
}

round=0
while [ "$round" -lt "$rounds" ]; do
    set --
    for name in $names; do
        set -- "$@" -n "$name" "$(command_for "$name")"
    done
    hyperfine -N --style none --warmup 10 --runs "$runs" --export-json "$dir/round$round.json" \
        "$@" >/dev/null 2>&1
    # Rotate the order for the next round.
    first=${names%% *}
    names="${names#* } $first"
    round=$((round + 1))
done

# Median over every sample of every round, in milliseconds.
median_ms() {
    jq -s --arg name "$1" '[.[].results[] | select(.command == $name) | .times[]] | sort
        | if length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 end | . * 1000' "$dir"/round*.json
}

fl=$(median_ms fleet-launch)
sp=$(median_ms setpriv)
echo "## Launcher start-up"
echo
echo "Drop root to \`nobody\` and exec \`/bin/true\`; hyperfine without a shell, $rounds rounds of"
echo "$runs runs per command, order rotated each round; medians over all $((rounds * runs)) samples."
echo "Source: \`bench/launcher.sh\`."
echo
echo "| Command | Median (ms) | Ratio to setpriv |"
echo "|---|---|---|"
for name in fleet-launch setpriv runuser sudo true; do
    m=$(median_ms "$name")
    # shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
    printf '| `%s` | %.3f | %.2f |\n' "$(command_for "$name" | sed "s|$build/bin/||")" "$m" \
        "$(echo "$m $sp" | awk '{print $1 / $2}')"
done
echo
verdict=$(echo "$fl $sp" | awk '{ if ($1 <= $2) print "met"; else print "missed" }')
printf 'Goal: fleet-launch no slower than setpriv (median ratio <= 1.0). Measured %.2f: **%s**.\n' \
    "$(echo "$fl $sp" | awk '{print $1 / $2}')" "$verdict"
