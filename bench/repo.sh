#!/bin/sh
# repo: what an agent's repository costs (docs/dispatch.md, "Working on a repository").
#
# An origin of 10,000 files (100 directories of 100) and about 200 MB of history (117 commits,
# each rewriting 1,000 files with 2 KiB of base64 of random bytes, so little packs away), made
# with git fast-import. Per round, alternating: a dispatch run of one no-op agent with --repo (the
# clone's time from runner.log: "clone of … made in N ms", dispatch's own clock around
# clone_repo), `git worktree add --detach` and a plain `git clone --local` of the same origin as
# the user (wall time, runuser included), each followed by its removal off the clock; and a run
# of an agent that appends a line to 1,000 files (the collection's time from runner.log:
# "changes collected in N ms": add, commit, the patch, the stat, the bundle and its import into
# the origin). The origin's pack is read back into the page cache before every sample.
set -eu
build=$1
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"

root_or_skip "dispatch: repositories" || exit 0

bench_user frepo
dispatch="$build/bin/dispatch"
origin="$work/origin"
python3 - "$origin" <<'PY'
import base64, os, subprocess, sys

origin = sys.argv[1]
subprocess.run(["git", "init", "-q", "-b", "main", origin], check=True)
feed = subprocess.Popen(["git", "-C", origin, "fast-import", "--quiet"], stdin=subprocess.PIPE)
out = feed.stdin

def blob():
    return base64.b64encode(os.urandom(1536)) + b"\n"

def commit(n, paths):
    message = b"commit %d\n" % n
    out.write(b"commit refs/heads/main\ncommitter bench <bench@x> %d +0000\n" % (1700000000 + n))
    out.write(b"data %d\n%s" % (len(message), message))
    for path in paths:
        data = blob()
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))

files = ["d%02d/f%04d.txt" % (i // 100, i) for i in range(10000)]
commit(0, files)
for n in range(1, 118):
    commit(n, files[(n * 1000) % 10000:(n * 1000) % 10000 + 1000])
out.close()
if feed.wait() != 0:
    sys.exit("fast-import failed")
subprocess.run(["git", "-C", origin, "reset", "-q", "--hard", "main"], check=True)
PY
chown -R "$user": "$origin"
mkdir "$work/u" && chown "$user": "$work/u" # where the user's worktrees and clones go
pack_mb=$(du -sm "$origin/.git/objects" | cut -f1)

{
    printf 'user = "%s"\n' "$user"
    printf '[agents.noop]\ncommand = ["/bin/true"]\n'
    # shellcheck disable=SC2016 # $f is the agent's sh -c variable, not this script's
    printf '[agents.edit]\ncommand = ["/bin/sh", "-c", "for f in d0[0-9]/*; do echo changed >>\\"$f\\"; done"]\n'
} >"$work/repo.toml"
chmod 644 "$work/repo.toml"

runs="/home/$user/.local/state/fleet-dispatch/runs"
# The newest run's runner.log line "... PHRASE in N ms": N.
logged_ms() {
    # shellcheck disable=SC2012 # run directories have plain names (date-time-suffix)
    log=$(ls -d "$runs"/*/ | sort | tail -n 1)runner.log
    sed -n "s/.*$1 in \([0-9]*\) ms.*/\1/p" "$log" | head -n 1
}
as_user() { runuser -u "$user" -- "$@"; }

rounds=${BENCH_REPO_ROUNDS:-10}
i=0
while [ "$i" -lt "$rounds" ]; do
    settle 64M "$origin"/.git/objects/pack/*.pack
    "$dispatch" -c "$work/repo.toml" -a noop --repo "$origin@main" run x >/dev/null
    logged_ms "made" >>"$work/clone"
    settle 64M "$origin"/.git/objects/pack/*.pack
    sample worktree as_user git -C "$origin" worktree add -q --detach "$work/u/wt" main
    as_user git -C "$origin" worktree remove --force "$work/u/wt"
    settle 64M "$origin"/.git/objects/pack/*.pack
    sample local as_user git clone -q --local "$origin" "$work/u/cl"
    rm -rf "$work/u/cl"
    settle 64M "$origin"/.git/objects/pack/*.pack
    "$dispatch" -c "$work/repo.toml" -a edit --repo "$origin@main" run x >/dev/null
    logged_ms "changes collected" >>"$work/collect"
    "$dispatch" -c "$work/repo.toml" prune --keep 0 >/dev/null
    i=$((i + 1))
done
clone=$(median <"$work/clone")
worktree=$(awk '{ print $1 / 1000 }' "$work/worktree" | median)
local_clone=$(awk '{ print $1 / 1000 }' "$work/local" | median)
collect=$(median <"$work/collect")
ratio=$(awk -v a="$clone" -v b="$worktree" 'BEGIN { printf "%.2f", a / b }')
verdict() { awk -v a="$1" -v g="$2" 'BEGIN { print (a < g ? "met" : "missed") }'; }

echo "## dispatch: repositories"
echo
echo "An origin of 10,000 files and ${pack_mb} MB of objects (117 commits rewriting 1,000 files"
echo "each); $rounds rounds, the methods alternating, the origin's pack read back into the page"
echo "cache before each, medians. dispatch's clone is timed by dispatch around the clone (init,"
echo "alternates, checkout of the 10,000 files); git's two as the user, wall time."
echo "Source: \`bench/repo.sh\`."
echo
echo "| Per agent | Median (ms) |"
echo "|---|---|"
printf '| dispatch: its clone | %.0f |\n' "$clone"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `git worktree add --detach` | %.0f |\n' "$worktree"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `git clone --local` (hard links) | %.0f |\n' "$local_clone"
printf '| dispatch: the changes of an agent that edited 1,000 files collected | %.0f |\n' "$collect"
echo
echo "Goals: a clone under 1 s per agent, **$(verdict "$clone" 1000)** ($clone ms); within 1.5x"
echo "of \`git worktree add\`, **$(verdict "$ratio" 1.5)** (${ratio}x). Collecting a 1,000-file"
echo "change (add, commit, patch, stat, bundle, its import into the origin; in the clone each git"
echo "confined):"
printf "%.0f ms.\n" "$collect"
