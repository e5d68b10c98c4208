#!/bin/sh
# Generic keepalived notify script.  keepalived appends four arguments:
#     TYPE NAME STATE PRIORITY      e.g.  INSTANCE VI_1 MASTER 101
# TYPE is INSTANCE or GROUP, STATE is MASTER, BACKUP, FAULT or STOP.
# Each transition is logged: to the file $NOTIFY_LOG when it is set (the demo does that), else to
# syslog.  Put your own actions (start a service only the master runs, page someone...) below.
TYPE=$1 NAME=$2 STATE=$3 PRIORITY=$4
if [ -n "$NOTIFY_LOG" ]; then
    echo "$(date '+%Y-%m-%d %H:%M:%S.%N') $TYPE $NAME $STATE $PRIORITY" >> "$NOTIFY_LOG"
else
    logger -t keepalived-notify "$TYPE $NAME is now $STATE (priority $PRIORITY)"
fi
case $STATE in
    MASTER) : ;;
    BACKUP) : ;;
    FAULT)  : ;;
    STOP)   : ;;
esac
exit 0
