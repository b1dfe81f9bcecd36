//go:build !windows

package main

// windowsRecovery has nothing to do outside Windows: systemd and launchd restart policies are
// in the unit and the plist.
func windowsRecovery(string) error { return nil }
