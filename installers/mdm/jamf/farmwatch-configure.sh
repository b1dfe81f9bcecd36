#!/bin/sh
# Jamf Pro policy script for the Farmwatch agent (run it "After" the package in the same policy).
#
# Parameter 4: collector address, host:port               e.g. collector.example.com:7443
# Parameter 5: collector CA, base64 of ca.pem on one line  (base64 -i ca.pem | tr -d '\n')
# Parameter 6: enroll secret                               fwe_...
# Parameter 7: scan interval (optional)                    e.g. 5m
#
# With parameters 4-6 set, it writes /Library/Application Support/Farmwatch/agent.yaml (0600),
# the CA and the secret beside it, checks the configuration and restarts the agent. With all
# three empty it writes nothing and only checks the agent: use that when the settings come from
# the com.farmwatch.agent configuration profile instead. Either way it exits non-zero, and the
# policy shows as failed, when the agent is not running after a minute.
#
# The secret is never printed. Do not add `set -x`: it would put the secret in the policy log.

set -eu

AGENT=/usr/local/bin/farmwatch-agent
DIR="/Library/Application Support/Farmwatch"
SERVER=${4:-}
CA_B64=${5:-}
SECRET=${6:-}
INTERVAL=${7:-}

fail() {
	echo "farmwatch: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (Jamf policies do)"
[ -x "$AGENT" ] || fail "$AGENT is missing: add farmwatch-agent-VERSION.pkg to this policy, before the script"

if [ -n "$SERVER$CA_B64$SECRET" ]; then
	if [ -z "$SERVER" ] || [ -z "$CA_B64" ] || [ -z "$SECRET" ]; then
		fail "parameters 4 (server), 5 (CA) and 6 (enroll secret) go together: set all three or none"
	fi
	# Checked so that nothing a parameter holds can change the meaning of the YAML.
	printf '%s\n' "$SERVER" | grep -Eq '^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$' ||
		fail "parameter 4 must be host:port, got '$SERVER'"
	case $SECRET in
	fwe_*) ;;
	*) fail "parameter 6 does not look like an enroll secret (fwe_...); not printed" ;;
	esac
	printf '%s\n' "$SECRET" | grep -Eq '^[A-Za-z0-9_-]+$' ||
		fail "parameter 6 has characters an enroll secret never has; not printed"
	if [ -n "$INTERVAL" ]; then
		printf '%s\n' "$INTERVAL" | grep -Eq '^[0-9]+(s|m|h)$' || fail "parameter 7 must be a duration such as 5m, got '$INTERVAL'"
	fi

	umask 077
	mkdir -p "$DIR"
	chown root:wheel "$DIR"
	chmod 0755 "$DIR"
	tmp=$(mktemp "$DIR/.ca.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	printf '%s' "$CA_B64" | /usr/bin/base64 -D >"$tmp" || fail "parameter 5 is not base64"
	/usr/bin/openssl x509 -noout -in "$tmp" 2>/dev/null || fail "parameter 5 is not a PEM certificate once decoded"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$DIR/ca.pem"

	tmp=$(mktemp "$DIR/.secret.XXXXXX")
	printf '%s\n' "$SECRET" >"$tmp"
	mv -f "$tmp" "$DIR/enroll-secret"

	tmp=$(mktemp "$DIR/.agent.XXXXXX")
	{
		echo "# Written by the Jamf policy script farmwatch-configure.sh; edit the policy, not this file."
		echo "server: \"$SERVER\""
		echo "ca_file: \"$DIR/ca.pem\""
		echo "enroll_secret_file: \"$DIR/enroll-secret\""
		[ -z "$INTERVAL" ] || echo "interval: $INTERVAL"
	} >"$tmp"
	mv -f "$tmp" "$DIR/agent.yaml"
	trap - EXIT
	chown root:wheel "$DIR/ca.pem" "$DIR/enroll-secret" "$DIR/agent.yaml"

	"$AGENT" config check || fail "farmwatch-agent config check refused the configuration above"
	"$AGENT" stop >/dev/null 2>&1 || true
	"$AGENT" start || fail "farmwatch-agent start failed"
	echo "farmwatch: wrote $DIR/agent.yaml for $SERVER and restarted the agent"
else
	echo "farmwatch: no parameters, leaving the configuration to the com.farmwatch.agent profile"
	"$AGENT" config check || fail "farmwatch-agent config check refused the configuration (is the profile installed?)"
fi

i=0
while [ "$i" -lt 12 ]; do
	if out=$("$AGENT" status 2>&1); then
		printf '%s\n' "$out"
		exit 0
	fi
	i=$((i + 1))
	sleep 5
done
printf '%s\n' "$out" >&2
fail "the agent is not running a minute after the policy; see the status above"
