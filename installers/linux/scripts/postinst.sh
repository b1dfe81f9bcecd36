#!/bin/sh
# farmwatch-agent postinst (.deb: "configure [old-version]") and %post (.rpm: 1 = install,
# 2 = upgrade). Checks /etc/farmwatch/agent.yaml, enrolls when the configuration says how and
# the agent is not enrolled yet, then enables and (re)starts the service when systemd runs.
# The state directory is never touched here, so an upgrade keeps the enrollment and spool.
set -e

CONFIG=/etc/farmwatch/agent.yaml
AGENT=/usr/bin/farmwatch-agent

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;; # abort-upgrade, abort-remove, abort-deconfigure
esac

say() { echo "farmwatch-agent: $*" >&2; }

fail() {
	say "$*"
	say "The agent was installed but NOT started. Fix $CONFIG, then install the package again"
	say "(or run: sudo farmwatch-agent config check && sudo systemctl restart farmwatch-agent)."
	exit 1
}

# value KEY prints the value of "KEY: value" in the flat YAML file, unquoted, without comment.
value() {
	sed -n "s/^$1:[[:space:]]*//p" "$CONFIG" | head -n 1 |
		sed -e 's/[[:space:]]#.*$//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# check_config validates the file the way the agent reads it. `farmwatch-agent config check`
# does it when this agent has the command; older agents get the same essential checks here.
check_config() {
	[ -f "$CONFIG" ] || return 0 # no file: built-in defaults, nothing to enroll with
	if out=$("$AGENT" config check 2>&1); then
		check_enroll_settings
		return 0
	fi
	case "$out" in
	*"unknown command \"config\""*) ;;
	*) fail "the configuration in $CONFIG is not valid:
$out" ;;
	esac
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		stripped=$(printf '%s' "$line" | sed 's/^[[:space:]]*//')
		case "$stripped" in '' | '#'*) continue ;; esac
		key=$(printf '%s' "$line" | sed -n 's/^\([a-z_][a-z0-9_]*\):\([[:space:]].*\)\{0,1\}$/\1/p')
		[ -n "$key" ] || fail "$CONFIG:$n: not a \"key: value\" line: $line"
		case "$key" in
		server | ca_file | enroll_secret | enroll_secret_file | state_dir | interval | heartbeat | sniff | log_level | uninstall_token_sha256) ;;
		*) fail "$CONFIG:$n: unknown setting \"$key\"" ;;
		esac
	done <"$CONFIG"
	check_enroll_settings
}

# check_enroll_settings: enrolling needs the CA to pin, so a server without one is an error.
check_enroll_settings() {
	server=$(value server)
	ca=$(value ca_file)
	if [ -n "$server" ]; then
		[ -n "$ca" ] || fail "$CONFIG: server is set to $server but ca_file is empty: copy the collector's CA certificate (DATA/ca.pem on the collector) to /etc/farmwatch/ca.pem and set ca_file to it."
		[ -f "$ca" ] || fail "$CONFIG: server is set to $server but the CA certificate ca_file=$ca does not exist: copy the collector's CA certificate (DATA/ca.pem on the collector) there."
	fi
	secret_file=$(value enroll_secret_file)
	if [ -n "$secret_file" ] && [ ! -f "$secret_file" ]; then
		fail "$CONFIG: enroll_secret_file=$secret_file does not exist."
	fi
}

check_config

server=$(value server 2>/dev/null || true)
ca=$(value ca_file 2>/dev/null || true)
secret_file=$(value enroll_secret_file 2>/dev/null || true)
state=$(value state_dir 2>/dev/null || true)
[ -n "$state" ] || state=/var/lib/farmwatch
mkdir -p "$state"
chmod 700 "$state"

# Enroll once: the state directory's agent.json is the enrollment record. A collector that
# cannot be reached now is not an install failure; the admin retries with `farmwatch-agent enroll`.
if [ -n "$server" ] && [ -n "$secret_file" ] && [ -f "$secret_file" ] && [ ! -f "$state/agent.json" ]; then
	if FARMWATCH_ENROLL_SECRET=$(cat "$secret_file") "$AGENT" enroll --state "$state" --server "$server" --ca "$ca"; then
		say "enrolled with $server"
	else
		say "WARNING: enrolling with $server failed (see above); the service will start unenrolled."
		say "Retry with: sudo farmwatch-agent enroll --server $server --ca $ca --secret \"\$(sudo cat $secret_file)\""
	fi
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	systemctl enable farmwatch-agent.service >/dev/null 2>&1 || say "WARNING: systemctl enable farmwatch-agent failed"
	# restart, not start: an upgrade replaces the binary under a running service. The marker
	# tells the running agent that the stop is an upgrade (no agent.tamper at the collector).
	if systemctl is-active --quiet farmwatch-agent.service 2>/dev/null; then
		: > /var/lib/farmwatch/upgrading 2>/dev/null || true
	fi
	systemctl restart farmwatch-agent.service || say "WARNING: farmwatch-agent did not start; see: journalctl -u farmwatch-agent"
else
	say "systemd is not running here (container or chroot?): the service was installed but not started."
fi
exit 0
