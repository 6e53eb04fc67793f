#!/bin/sh
# limits: what a run's cgroups cost (docs/dispatch.md, "Limits").
#
# A run of one no-op agent (`/bin/true`) with the default limits (the run's cgroup tree made
# and limited by root, the runner's and the agent's joins, the keeper forked, the agent's
# resources read) against the same run with limits = "off"; and the same for 16 agents at
# once (the per-agent part). 40 rounds, the commands alternating within each, wall time from
# date(1) around each, medians of each round's difference. The keeper removes the cgroups
# after dispatch has exited: that part is off the run's clock, as it is off the caller's.
# bench/unified.sh's runs (32 agents streaming) have the limits too, the default.
set -eu
build=$1
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"

root_or_skip "dispatch: limits" || exit 0

bench_user flim
dispatch="$build/bin/dispatch"
noop_config one.toml 1 ""
noop_config one-off.toml 1 'limits = "off"\n'
noop_config many.toml 16 ""
noop_config many-off.toml 16 'limits = "off"\n'
many=$(seq -s, 1 16 | sed 's/\([0-9]*\)/a\1/g')

sync
rounds=${BENCH_LIMITS_ROUNDS:-40}
i=0
while [ "$i" -lt "$rounds" ]; do # alternating, so drift on a shared machine hits both alike
    sample one "$dispatch" -c "$work/one.toml" -a a1 run x
    sample one-off "$dispatch" -c "$work/one-off.toml" -a a1 run x
    sample many "$dispatch" -c "$work/many.toml" -a "$many" run x
    sample many-off "$dispatch" -c "$work/many-off.toml" -a "$many" run x
    i=$((i + 1))
done
med() { awk '{ print $1 / 1000 }' "$work/$1" | median; }
diff_of() { paste "$work/$1" "$work/$2" | awk -v n="$3" '{ print ($1 - $2) / (1000 * n) }' | median; }
per_run=$(awk -v a="$(diff_of one one-off 1)" 'BEGIN { printf "%.2f", a }')
per_agent=$(awk -v a="$(diff_of many many-off 16)" 'BEGIN { printf "%.2f", a }')
# The mode a run with limits recorded (the runs with limits = "off" record none).
mode=$(cat /home/"$user"/.local/state/fleet-dispatch/runs/*/status.json |
    sed -n 's/.*"cgroup_mode": *"\([a-z0-9]*\)".*/\1/p' | head -n 1)
verdict() { awk -v a="$1" -v g="$2" 'BEGIN { print (a < g ? "met" : "missed") }'; }

echo "## dispatch: limits"
echo
echo "Runs of no-op agents (\`/bin/true\`) as root with the default limits (a cgroup per run and"
echo "per agent, mode ${mode:-unknown} here) against \`limits = \"off\"\`. $rounds rounds, the four"
echo "commands alternating, medians (added time: the median of each round's difference)."
echo "Source: \`bench/limits.sh\`."
echo
echo "| Command | Median (ms) |"
echo "|---|---|"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| 1 agent, limits | %.2f |\n| 1 agent, `limits = "off"` | %.2f |\n' "$(med one)" "$(med one-off)"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| 16 agents, limits | %.2f |\n| 16 agents, `limits = "off"` | %.2f |\n' "$(med many)" "$(med many-off)"
echo
echo "Goal: a run's cgroups add under 3 ms: measured $per_run ms for a run of one agent,"
echo "**$(verdict "$per_run" 3)**; each further agent adds $per_agent ms (16 at once). The runner's"
echo "CPU per GiB and RSS with 32 agents, limits on, are \"unified: the runner under many agents\"."
echo "Where the time goes: moving a process into a cgroup takes the kernel's"
echo "cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period unless another"
echo "move has just done so (strace -T: the first agent's write to cgroup.procs, 16 ms here;"
echo "the next ones, within that window, well under 1 ms). Starting the agent inside its cgroup"
echo "(clone3 with CLONE_INTO_CGROUP, v2 hosts only; v1 hierarchies have no such flag) would avoid"
echo "the wait, but the kernel checks the cloning runner's own write access to the cgroup's files:"
echo "the user would have to own them, which dispatch does not allow (docs/dispatch.md, \"Limits\")."
echo "On hybrid and v1 hosts the v1 moves would wait all the same."
