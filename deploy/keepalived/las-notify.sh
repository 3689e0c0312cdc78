#!/bin/sh
# keepalived notify hook for LAS (ha.mode "vrrp"): tells the local LAS daemon its role.
#   notify_master "/usr/lib/las/las-notify.sh active"
#   notify_backup "/usr/lib/las/las-notify.sh standby"   (and notify_fault, notify_stop)
# $1: active | standby; $2: the admin socket (default /run/las/admin.sock). LAS_COMMAND: how to
# run las when it is not on keepalived's PATH, e.g. LAS_COMMAND=/usr/local/bin/las.
# One attempt, no retry: a retried old call could land after a newer one and undo it. None is
# needed: keepalived is MASTER only while las-alive.sh sees LAS listening, and a LAS that is down
# or starting is a standby anyway (it starts as one).
role=$1
socket=${2:-/run/las/admin.sock}
las=${LAS_COMMAND:-las}
case "$role" in active|standby) ;; *) echo "las-notify: usage: las-notify.sh active|standby [ADMIN_SOCKET]" >&2; exit 2 ;; esac
# shellcheck disable=SC2086  # LAS_COMMAND may be "node /path/main.js"
exec $las role "$role" --socket "$socket"
