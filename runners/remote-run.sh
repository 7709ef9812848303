# Stackwire's run on a bare-metal host (lib/ssh.ts sends it with every remote run). Constant code: what
# to run arrives as data (base64 lines in the files argv and env), never as shell text.
#   $1     the run's folder (unpacked from the bundle; removed at the end)
#   stdin  the SSH connection's input, watched: when it ends (the worker's ssh client was stopped by a
#          cancellation, a timeout or the worker's death), the run's process group is stopped too.
# Exit codes: the program's own; 96 when the run could not be set up (stderr says why).
d=$1
exec 3<&0
trap 'rm -rf "$d"' EXIT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE
fail() {
  echo "stackwire: $*" >&2
  exit 96
}
decode() {
  v=$(printf '%s' "$1" | base64 -d && printf x) || fail "the run's data is damaged (base64)"
  v=${v%x}
}
while IFS= read -r line; do
  [ -n "$line" ] || continue
  decode "$line"
  case $v in
    [A-Za-z_]*=*) export "$v" ;;
    *) fail "an environment line is not NAME=value" ;;
  esac
done <"$d/env"
set --
while IFS= read -r line; do
  decode "$line"
  case $v in
    @RUN@/*) v="$d/${v#@RUN@/}" ;;
  esac
  set -- "$@" "$v"
done <"$d/argv"
[ $# -gt 0 ] || fail "nothing to run"
export STACKWIRE_RUN_DIR="$d" STACKWIRE_PACK_DIR="$d/pack"
mkdir -p "$d/work" && cd "$d/work" || fail "cannot make the working folder $d/work"
# A session (and process group) of its own, so everything the program starts can be stopped at once.
if command -v setsid >/dev/null 2>&1; then
  setsid "$@" </dev/null 3<&- &
else
  "$@" </dev/null 3<&- &
fi
pid=$!
# From here the bootstrap writes nothing to the connection: a message of its own (the shell's "Terminated")
# on a connection already closed would kill it by SIGPIPE before it removes the run's folder.
exec >/dev/null 2>&1
(
  cat >/dev/null
  if [ -d "$d" ]; then
    kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    sleep 5
    kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  fi
) <&3 >/dev/null 2>&1 &
wait "$pid"
exit $?
