#!/bin/sh
# keepalived vrrp_script for LAS: succeeds while a process in this network namespace listens on
# the LAS admin socket ($1, default /run/las/admin.sock). A killed LAS (kill -9 included) closes it
# at once, so keepalived goes to FAULT at the next check and the peer takes over. Cheap: one read of
# /proc/net/unix, no process of LAS started. (In the initial namespace, track_process does the same
# without polling; it does not work inside a network namespace: see keepalived.conf.)
socket=${1:-/run/las/admin.sock}
exec awk -v s="$socket" '$NF == s { found = 1 } END { exit !found }' /proc/net/unix
