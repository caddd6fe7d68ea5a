#!/bin/sh
# wget with -T SECONDS / --timeout=SECONDS for the shell image. Debian's busybox is built without
# wget's timeout option yet still parses -T, and then crashes (exit 139, in any network namespace), so
# the time limit is given by busybox's own `timeout` around the plain applet.
limit=
n=$#
while [ "$n" -gt 0 ]; do
  arg=$1; shift; n=$((n - 1))
  case $arg in
    -T) limit=$1; shift; n=$((n - 1)) ;;
    -T*) limit=${arg#-T} ;;
    --timeout=*) limit=${arg#--timeout=} ;;
    *) set -- "$@" "$arg" ;;
  esac
done
[ -n "$limit" ] && exec /bin/busybox timeout "$limit" /bin/busybox wget "$@"
exec /bin/busybox wget "$@"
