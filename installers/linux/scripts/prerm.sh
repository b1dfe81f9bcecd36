#!/bin/sh
# farmwatch-agent prerm (.deb: "remove" | "upgrade NEW" | ...) and %preun (.rpm: 0 = erase,
# 1 = upgrade). Stops and disables the service only when the package goes away: on upgrade the
# new package's postinst restarts it (rpm runs the old %preun after the new %post).
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl stop farmwatch-agent.service >/dev/null 2>&1 || true
		systemctl disable farmwatch-agent.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
