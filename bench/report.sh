#!/bin/sh
# report: dispatch report --from of a fleet of 50 hosts (docs/watching-a-fleet.md).
#
# dev/demo-fleet makes 50 hosts with 28 days of runs, two a day (2,800 runs, and on one host
# two unreadable ones), as the Ansible playbook's layout; per round, alternating, as a
# throwaway user: the page (dispatch report --from DIR -o FILE), the same runs as JSON lines
# (--json), and cat of every fetched file (what only reading the bytes costs), each after
# settle with the fleet's files in the page cache. Medians of the wall times.
set -eu
build=$1
# shellcheck source-path=SCRIPTDIR source=common
. "$(dirname "$0")/common"

root_or_skip "dispatch report: a fleet of 50 hosts" || exit 0

bench_user freport
dispatch="$build/bin/dispatch"
root=$(cd "$(dirname "$0")/.." && pwd)
fleet="$work/fleet"
"$root/dev/demo-fleet" "$fleet" 50 28
chmod -R a+rX "$fleet"
mkdir "$work/out" && chown "$user": "$work/out"
runs=$(cat "$fleet"/*/runs.jsonl | wc -l)
mb=$(du -sm "$fleet" | cut -f1)
as_user() { runuser -u "$user" -- "$@"; }

rounds=${BENCH_REPORT_ROUNDS:-11}
i=0
while [ "$i" -lt "$rounds" ]; do
    settle 64M "$fleet"/*/runs.jsonl
    sample page as_user "$dispatch" report --from "$fleet" -o "$work/out/fleet.html"
    settle 64M "$fleet"/*/runs.jsonl
    sample json as_user "$dispatch" report --from "$fleet" --json
    settle 64M "$fleet"/*/runs.jsonl
    # shellcheck disable=SC2016 # $1 is the inner sh's
    sample cat as_user sh -c 'cat "$1"/*/runs.jsonl' sh "$fleet"
    i=$((i + 1))
done
ms() { awk '{ print $1 / 1000 }' "$work/$1" | median; }
page=$(ms page)
json=$(ms json)
read_only=$(ms cat)
page_kb=$(($(stat -c %s "$work/out/fleet.html") / 1024))

echo "## dispatch report: a fleet of 50 hosts"
echo
echo "\`dev/demo-fleet\`'s 50 hosts, 28 days of two runs each: $runs runs in ${mb} MB of"
echo "\`runs.jsonl\`; $rounds rounds, the three alternating, each after \`settle\` with the files"
echo "in the page cache; medians of the wall time, as a throwaway user (runuser included)."
echo "Source: \`bench/report.sh\`."
echo
echo "| $runs runs of 50 hosts | Median (ms) |"
echo "|---|---|"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `dispatch report --from DIR -o FILE` (the page, %s KiB) | %.0f |\n' "$page_kb" "$page"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `dispatch report --from DIR --json` (the same runs as lines) | %.0f |\n' "$json"
# shellcheck disable=SC2016 # the backticks are markdown code spans, not substitutions
printf '| `cat` of every runs.jsonl (reading the bytes only) | %.0f |\n' "$read_only"
echo
verdict=$(awk -v a="$page" 'BEGIN { print (a < 2000 ? "met" : "missed") }')
ratio=$(awk -v a="$page" -v b="$json" 'BEGIN { printf "%.2f", a / b }')
printf 'Goal: the page of a 50-host fleet in under 2 s, **%s** (%.0f ms); the page costs\n' \
    "$verdict" "$page"
echo "${ratio}x the JSON lines of the same runs (both parse every line)."
