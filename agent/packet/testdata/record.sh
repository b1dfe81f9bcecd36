#!/bin/sh
# Records the pcaps in this directory on the loopback interface. Needs root
# (capture, port 443), tshark, dnsmasq, dig, openssl and Go. CI does not run
# this; the pcaps are committed. Run from the repository root:
#   sh agent/packet/testdata/record.sh
set -eu
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# capture IFACE LINKTYPE FILE FILTER: starts tshark, waits until it listens.
capture() {
	tshark -q -i "$1" -y "$2" -F pcap -w "$tmp/$3" -f "$4" 2>"$tmp/$3.log" &
	cap=$!
	pids="$pids $cap"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q Capturing "$tmp/$3.log" 2>/dev/null && break
		sleep 0.5
	done
	sleep 0.5
}
# finish FILE: stops the capture started last and keeps its file.
finish() {
	sleep 0.5
	kill -INT "$cap"
	wait "$cap" || true
	cp "$tmp/$1" "$out/$1"
}

go build -o "$tmp/sendprobe" ./agent/packet/testdata/sendprobe

# 1. DNS: dnsmasq answers net.anydesk.com names with 127.0.0.2; dig asks.
dnsmasq --conf-file=/dev/null --no-daemon --no-resolv --port=5353 \
	--listen-address=127.0.0.1 --bind-interfaces \
	--address=/net.anydesk.com/127.0.0.2 2>"$tmp/dnsmasq.log" &
dns=$!
pids="$pids $dns"
sleep 1
capture lo EN10MB dns_anydesk.pcap "udp port 5353 and host 127.0.0.1"
dig @127.0.0.1 -p 5353 relay-1a2b3c4d.net.anydesk.com A +tries=1 +time=2
finish dns_anydesk.pcap
kill "$dns"

# 2. TLS: openssl s_client with SNI rs-ny.rustdesk.com and ALPN to s_server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=rs-ny.rustdesk.com -days 1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
openssl s_server -quiet -accept 127.0.0.1:443 -cert "$tmp/cert.pem" -key "$tmp/key.pem" >/dev/null 2>&1 &
srv=$!
pids="$pids $srv"
sleep 1
capture lo EN10MB tls_rustdesk.pcap "tcp port 443"
echo | timeout 5 openssl s_client -connect 127.0.0.1:443 -servername rs-ny.rustdesk.com \
	-alpn h2,http/1.1 >/dev/null 2>&1 || true
finish tls_rustdesk.pcap
kill "$srv"

# 3. STUN: a Binding request and the answer of a tiny responder, Linux
#    cooked v2 headers.
capture any LINUX_SLL2 stun_binding.pcap "udp port 3478"
"$tmp/sendprobe" stun 127.0.0.1:3478
finish stun_binding.pcap

# 4. QUIC: x/net/quic client Initials to a closed port (ICMP comes back),
#    Linux cooked v1 headers. The first fits one packet (X25519); the second
#    carries an ML-KEM key share, so its ClientHello spans two Initials.
capture any LINUX_SLL quic_initial.pcap "udp port 443 or icmp"
"$tmp/sendprobe" quic 127.0.0.1:443 derp1.tailscale.com x25519
"$tmp/sendprobe" quic 127.0.0.1:443 relay.teamviewer.com
finish quic_initial.pcap

# 5. TLS: a Go ClientHello with the ML-KEM key share over two TCP segments.
capture lo EN10MB tls_split_teamviewer.pcap "tcp port 8443"
"$tmp/sendprobe" tls 127.0.0.1:8443 relay.teamviewer.com || true
finish tls_split_teamviewer.pcap

ls -l "$out"/*.pcap
