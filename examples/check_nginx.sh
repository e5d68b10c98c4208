#!/bin/sh
# vrrp_script check: succeed (exit 0) when the local nginx serves a page within one second.
# curl exits non-zero (7 = connection refused, 28 = timeout, 22 = HTTP error) otherwise.
exec curl --silent --fail --output /dev/null --max-time 1 http://127.0.0.1/
