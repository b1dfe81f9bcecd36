#!/bin/sh
# farmwatch-agent postrm (.deb: "remove" | "purge" | "upgrade" | ...) and %postun (.rpm:
# 0 = erase, 1 = upgrade). Purge deletes the enrollment, spool and configuration; a plain
# remove and every upgrade keep them. rpm has no purge: `rpm -e` keeps /var/lib/farmwatch
# (remove it by hand to forget the enrollment) and saves a changed agent.yaml as .rpmsave.
set -e
case "$1" in
purge)
	rm -rf /var/lib/farmwatch /etc/farmwatch
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
