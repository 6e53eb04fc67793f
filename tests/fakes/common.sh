# shellcheck shell=sh
# Shared by the fake agent CLIs (sourced). Each fake mimics one real CLI's documented headless
# behaviour (docs/design/agent-clis.md §1-5; the fakes: §8.3): its flags, output format, exit
# codes and signal handling. It records what it received in its working directory: argv.got
# (one argument per line), prompt.got (the prompt, byte for byte), and whether its API key was
# set (never the key).
# FAKE_MODE picks the scenario: ok (default), api401, maxturns, notloggedin, error, hang.
set -u
# shellcheck disable=SC2034 # read by the fake that sources this file
mode=${FAKE_MODE:-ok}
: >argv.got
for arg in "$@"; do printf '%s\n' "$arg" >>argv.got; done
case "${1:-}" in --version)
    # shellcheck disable=SC2154 # each fake sets fake_name before sourcing this file
    echo "$fake_name 9.9.9 (fleet-dispatch test fake)"
    exit 0
    ;;
esac
has_arg() { # has_arg WORD ARGS...: is WORD one of ARGS?
    want=$1
    shift
    for arg in "$@"; do [ "$arg" = "$want" ] && return 0; done
    return 1
}
key_state() { # key_state VAR: "set" or "unset", never the value
    eval "[ -n \"\${$1:-}\" ]" && echo set || echo unset
}
hang() { # wait to be killed; a TERM runs the given handler
    # shellcheck disable=SC2064 # $1 is the handler's text, expanded now on purpose
    trap "$1" TERM
    while :; do sleep 1; done
}
