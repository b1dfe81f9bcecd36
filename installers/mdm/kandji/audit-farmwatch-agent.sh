#!/bin/sh
# Kandji Custom App audit script for the Farmwatch agent ("Audit and enforce").
# Exit 0: installed, new enough and running. Exit 1: Kandji installs the package again, which
# also restarts an agent that someone stopped.
#
# Set MINIMUM_VERSION to the version you deploy; leave 0.0.0 to accept any.

MINIMUM_VERSION=0.0.0
AGENT=/usr/local/bin/farmwatch-agent

[ -x "$AGENT" ] || { echo "farmwatch: $AGENT missing"; exit 1; }

# "farmwatch-agent 1.4.2 darwin/arm64 go1.26.0"
installed=$("$AGENT" version 2>/dev/null | awk 'NR == 1 { sub(/^v/, "", $2); print $2 }')
case $installed in
[0-9]*.[0-9]*.[0-9]*) ;;
*)
	echo "farmwatch: cannot read the version ('$installed'), reinstalling"
	exit 1
	;;
esac
lowest=$(printf '%s\n%s\n' "$MINIMUM_VERSION" "$installed" | sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)
if [ "$lowest" = "$installed" ] && [ "$installed" != "$MINIMUM_VERSION" ]; then
	echo "farmwatch: version $installed is older than $MINIMUM_VERSION"
	exit 1
fi

if ! "$AGENT" status >/dev/null 2>&1; then
	echo "farmwatch: agent not running"
	exit 1
fi
echo "farmwatch: agent $installed running"
exit 0
