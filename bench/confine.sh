#!/bin/sh
# confine: what confining agents costs (docs/dispatch.md, "What an agent can and cannot do").
#
# Spawn: a run of 16 no-op agents (`/bin/true`, all at once) with the default confinement (a
# Landlock domain each, built and entered per agent) against the same run with confine = "off"
# (both in the run's PID namespace); the median difference over 16 is the added time per
# agent (the median of the paired differences). 40 rounds, the commands alternating within
# each, wall time from date(1) around each (its own cost is in every sample alike), medians.
# One agent confined and unconfined, and `/bin/true`, for scale. The per-run overhead and the
# capture throughput with confinement are bench/dispatch.sh's: its agents are confined (the
# default), so its goals are judged with confinement.
set -eu
build=$1
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"

root_or_skip "dispatch: confinement" || exit 0

bench_user fconf
dispatch="$build/bin/dispatch"
noop_config many.toml 16 ""
noop_config many-off.toml 16 'confine = "off"\n'
noop_config one.toml 1 ""
noop_config one-off.toml 1 'confine = "off"\n'
many=$(seq -s, 1 16 | sed 's/\([0-9]*\)/a\1/g')

sync
rounds=${BENCH_CONFINE_ROUNDS:-40}
i=0
while [ "$i" -lt "$rounds" ]; do # alternating, so drift on a shared machine hits both alike
    sample confined "$dispatch" -c "$work/many.toml" -a "$many" run x
    sample off "$dispatch" -c "$work/many-off.toml" -a "$many" run x
    sample one "$dispatch" -c "$work/one.toml" -a a1 run x
    sample one-off "$dispatch" -c "$work/one-off.toml" -a a1 run x
    sample direct /bin/true
    i=$((i + 1))
done
med() { awk '{ print $1 / 1000 }' "$work/$1" | median; }
confined=$(med confined)
off=$(med off)
per_agent=$(paste "$work/confined" "$work/off" | awk '{ print ($1 - $2) / 16000 }' | median)
per_agent=$(awk -v a="$per_agent" 'BEGIN { printf "%.2f", a }')
one=$(med one)
one_off=$(med one-off)
direct=$(med direct)
# shellcheck disable=SC2012 # run directories have plain names (date-time-suffix); ls sorts them
abi=$(awk '/Landlock ABI/ { print $NF; exit }' "$(ls -d /home/"$user"/.local/state/fleet-dispatch/runs/* | tail -n 1)/runner.log")
verdict() { awk -v a="$1" -v g="$2" 'BEGIN { print (a < g ? "met" : "missed") }'; }

echo "## dispatch: confinement"
echo
echo "Runs of no-op agents (\`/bin/true\`) as root, confined (the default: a Landlock domain per"
echo "agent, Landlock ABI $abi here) against \`confine = \"off\"\`, both in the run's own PID"
echo "namespace. $rounds rounds, the five commands alternating, medians (the added time per agent:"
echo "the median of each round's difference, over 16). Source: \`bench/confine.sh\`."
echo
echo "| Command | Median (ms) |"
echo "|---|---|"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| 16 agents, confined | %.2f |\n| 16 agents, `confine = "off"` | %.2f |\n' "$confined" "$off"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| 1 agent, confined | %.2f |\n| 1 agent, `confine = "off"` | %.2f |\n' "$one" "$one_off"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `/bin/true` | %.2f |\n' "$direct"
echo
echo "Goal: a confined spawn under 2 ms more than an unconfined one: measured $per_agent ms per"
echo "agent (16 at once), **$(verdict "$per_agent" 2)**. One agent, confined against unconfined:"
echo "$(awk -v a="$one" -v b="$one_off" 'BEGIN { printf "%.2f", a - b }') ms. The per-run goal (under 10 ms added, with confinement) is judged in"
echo "\"dispatch: overhead per run\", capture throughput with confinement in \"dispatch: capture"
echo "throughput\": their agents are confined, the default."
