package policy

import "strings"

// KnownSignals are the signals a policy may name: every signal of docs/signals.md and the
// fleet and agent signals of design.md §4. A policy naming any other is rejected (a typo would
// otherwise silently weigh nothing); findings of other signals score with Policy.Default.
var KnownSignals = []string{
	"remote_tool.installed", "remote_tool.running", "remote_tool.session",
	"remote_tool.unattended", "remote_tool.multiple",
	"os_remote.enabled", "os_remote.session",
	"kvm.usb", "kvm.hid_shape", "kvm.display", "kvm.virtual_media",
	"hid.jiggler",
	"relay.dns", "relay.tls", "relay.stun", "relay.connection",
	"overlay.vpn", "overlay.mesh", "overlay.tunnel",
	"location.tz_mismatch", "location.egress_country", "location.egress_network",
	"location.input_language", "location.activity_hours", "location.remote_peer",
	"location.clock", "location.rtt",
	"fleet.shared_egress", "fleet.shared_wifi", "fleet.shared_gateway",
	"fleet.lan_neighbors", "fleet.shared_display_serial",
	"agent.silent", "agent.sequence_gap", "agent.tamper",
}

// KnownFamilies are the families of KnownSignals, in the order of design.md §4.
var KnownFamilies = []string{"remote_tool", "os_remote", "kvm", "hid", "relay", "overlay", "location", "fleet", "agent"}

// FamilyOther groups findings of unknown signals whose name names no known family.
const FamilyOther = "other"

// familyOf returns the part of a signal's name before the first dot.
func familyOf(signal string) string {
	f, _, _ := strings.Cut(signal, ".")
	return f
}
