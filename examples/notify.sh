#!/bin/sh
# Generic keepalived notify script.  keepalived appends four arguments:
#     TYPE NAME STATE PRIORITY      e.g.  INSTANCE VI_1 MASTER 101
# TYPE is INSTANCE or GROUP, STATE is MASTER, BACKUP, FAULT or STOP.
# This one appends a timestamped line to $NOTIFY_LOG (default /var/log/keepalived-notify.log)
# and to syslog; put your own actions (reload a service, page someone...) in the case below.
TYPE=$1 NAME=$2 STATE=$3 PRIORITY=$4
LOG=${NOTIFY_LOG:-/var/log/keepalived-notify.log}
echo "$(date '+%Y-%m-%d %H:%M:%S.%N') $TYPE $NAME $STATE $PRIORITY" >> "$LOG"
logger -t keepalived-notify "$TYPE $NAME is now $STATE (priority $PRIORITY)" 2>/dev/null
case $STATE in
    MASTER) : ;;   # e.g. start a service that only runs on the master
    BACKUP) : ;;
    FAULT)  : ;;
    STOP)   : ;;
esac
exit 0
