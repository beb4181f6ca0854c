# lib.sh -- what the SDK's shell tests share, sourced after their argument
# checks with LIB_NAME set: a temporary folder $TMP (removed on exit) and
#   fail MSG...          say FAIL: MSG on stderr and exit 1
#   logged LOG CMD...    run CMD with its output in LOG; show the log if it fails
#   expect FILE TEXT     FILE contains the fixed string TEXT
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tillpipe-${LIB_NAME:-sdk}-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

logged() {
    log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        fail "$*"
    fi
}

expect() {
    if ! grep -qF -- "$2" "$1"; then
        cat "$1" >&2
        fail "$1 lacks: $2"
    fi
}
