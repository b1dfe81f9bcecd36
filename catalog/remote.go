package catalog

// Tool is one remote-control, remote-support, screen-sharing or tunnelling product, with what
// identifies it on each OS and on the network. Every list is optional; empty means unknown,
// never "absent".
type Tool struct {
	ID       string `json:"id"`       // stable, lowercase: anydesk, rustdesk, teamviewer
	Name     string `json:"name"`     // display name
	Vendor   string `json:"vendor"`   // company or project
	Category string `json:"category"` // one of Categories
	// Attack is the MITRE ATT&CK technique the tool's use maps to (T1219, T1219.002, T1572...).
	Attack string `json:"attack"`
	// Deep marks entries curated from primary sources (the tools most abused by laptop farms);
	// the rest come from the LOLRMM snapshot as they are.
	Deep bool `json:"deep,omitempty"`
	// Origin says where the entry came from: "lolrmm", "farmwatch" or "lolrmm+farmwatch".
	Origin  string        `json:"origin"`
	Windows *OSIndicators `json:"windows,omitempty"`
	MacOS   *OSIndicators `json:"macos,omitempty"`
	Linux   *OSIndicators `json:"linux,omitempty"`
	Network Network       `json:"network"`
	// Session lists what shows that a peer is connected now, as opposed to installed or idle.
	Session []SessionMarker `json:"session,omitempty"`
	// Unattended lists configuration that arms the tool for access without a person accepting
	// (a permanent password, unattended access, auto-accept).
	Unattended []ConfigMarker `json:"unattended,omitempty"`
	Sources    []string       `json:"sources,omitempty"`
	// Notes are caveats a reader of a finding should know: unverified facts, forks, what the
	// catalog cannot express (registry settings, local APIs).
	Notes []string `json:"notes,omitempty"`
	// LOLRMM lists the names of the LOLRMM records merged into this entry (several records can
	// describe one product: "UltraVNC" and "Ultra VNC"). Empty for entries of our own.
	LOLRMM []string `json:"lolrmm,omitempty"`
}

// Categories of tools.
var Categories = []string{"rmm", "remote_desktop", "remote_support", "screen_share", "vnc", "tunnel", "vpn", "os_builtin", "other"}

// OSIndicators identify a tool on one operating system. Names are compared case-insensitively.
type OSIndicators struct {
	// Processes are executable base names (anydesk.exe, rustdesk, TeamViewer).
	Processes []string `json:"processes,omitempty"`
	// Paths are install locations as globs (* matches within one path element, ** any depth;
	// ~ is every user's home; %ProgramFiles% style variables on Windows).
	Paths []string `json:"paths,omitempty"`
	// Services are Windows service names (or display names), systemd unit names with their
	// suffix (rustdesk.service) or launchd labels; * matches any run of characters
	// (chrome-remote-desktop@*.service).
	Services []string `json:"services,omitempty"`
	// BundleIDs are macOS bundle identifiers (and package receipt ids).
	BundleIDs []string `json:"bundle_ids,omitempty"`
	// Packages are Linux package names (dpkg, rpm, flatpak app ids, snap names) and Windows
	// uninstall DisplayName prefixes.
	Packages []string `json:"packages,omitempty"`
	// Signers are code-signing subjects (Authenticode signer, Apple Team ID or name).
	Signers []string `json:"signers,omitempty"`
	// Interfaces are network interface names the tool creates, as globs (tailscale0, zt*).
	Interfaces []string `json:"interfaces,omitempty"`
}

// Network is where a tool connects to or listens on.
type Network struct {
	Domains        []string `json:"domains,omitempty"`         // exact host names
	DomainSuffixes []string `json:"domain_suffixes,omitempty"` // match the name or any subdomain (".anydesk.com" style, stored without the leading dot)
	DomainPatterns []string `json:"domain_patterns,omitempty"` // Go regular expressions over the whole name
	// Addresses are IP addresses and CIDR prefixes the tool talks to (relay IPs without a name,
	// overlay address ranges).
	Addresses []string `json:"addresses,omitempty"`
	Ports     []Port   `json:"ports,omitempty"`
}

// Port is a port a tool uses, with its role.
type Port struct {
	Protocol string `json:"protocol"` // tcp or udp
	Port     uint32 `json:"port"`
	To       uint32 `json:"to,omitempty"` // last port of a range
	// Role: "relay" and "rendezvous" are remote ports the tool connects to; "listen" is a port the
	// tool listens on for incoming sessions; "local" is a loopback control port; "direct" is a
	// port used between two peers without the vendor's infrastructure (LAN discovery, P2P,
	// reverse connections to a viewer).
	Role string `json:"role"`
}

// SessionMarker is one piece of evidence that a remote peer is connected now.
type SessionMarker struct {
	// Kind: "process" (a session-only helper process runs: Process, optional Args substring),
	// "inbound" (an established connection to one of the tool's listen ports or listening
	// sockets), "relay" (an established connection owned by the tool to one of its relay ports),
	// "log" (a recent line in a log file: Path glob, Pattern regexp). Process names compare
	// like OSIndicators.Processes, case-insensitively and with or without a trailing ".exe".
	Kind    string   `json:"kind"`
	OS      []string `json:"os,omitempty"` // linux, windows, darwin; empty = all
	Process string   `json:"process,omitempty"`
	Args    string   `json:"args,omitempty"`
	Path    string   `json:"path,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// ConfigMarker is a setting in a tool's configuration file that arms unattended access.
type ConfigMarker struct {
	OS      []string `json:"os,omitempty"`
	Path    string   `json:"path"`    // glob; ~ is every user's home
	Pattern string   `json:"pattern"` // Go regexp matched against each line
	Note    string   `json:"note"`
}
