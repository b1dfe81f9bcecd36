package overlay

import "context"

// liveConfig: tailscaled's socket and state (paths.DefaultTailscaledSocket,
// DefaultTailscaledStateFile), ZeroTier's home, and the interface names
// from sysfs plus addresses from net.Interfaces.
func liveConfig() (config, error) {
	return config{
		goos:            "linux",
		live:            true,
		tailscaleSocket: "/var/run/tailscale/tailscaled.sock",
		dialTailscale:   dialUnix,
		zeroTierPorts:   []int{defaultZeroTierPort},
		ngrokPorts:      defaultNgrokPorts,
		cfPorts:         defaultCFPorts,
		tailscaleState:  []string{"/var/lib/tailscale/tailscaled.state"},
		zeroTierHomes:   []string{"/var/lib/zerotier-one"},
		interfaces: func(ctx context.Context) ([]ifaceInfo, error) {
			return liveInterfaces(ctx)
		},
	}, nil
}
