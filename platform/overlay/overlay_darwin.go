package overlay

import "context"

// liveConfig: the open-source tailscaled's socket and state (the Mac App
// Store and standalone apps talk to their network extension over another
// IPC: they show up only through their utun interface, and only when an
// API answer gave the Tailscale addresses it holds), ZeroTier's home, and
// net.Interfaces (feth* is ZeroTier's).
func liveConfig() (config, error) {
	return config{
		goos:            "darwin",
		live:            true,
		tailscaleSocket: "/var/run/tailscaled.socket",
		dialTailscale:   dialUnix,
		zeroTierPorts:   []int{defaultZeroTierPort},
		ngrokPorts:      defaultNgrokPorts,
		cfPorts:         defaultCFPorts,
		tailscaleState:  []string{"/Library/Tailscale/tailscaled.state"},
		zeroTierHomes:   []string{"/Library/Application Support/ZeroTier/One"},
		interfaces: func(ctx context.Context) ([]ifaceInfo, error) {
			return liveInterfaces(ctx)
		},
	}, nil
}
