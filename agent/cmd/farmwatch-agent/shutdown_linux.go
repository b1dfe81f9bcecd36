package main

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// systemShuttingDown tells a stop for shutdown or reboot from an admin's stop, so the collector
// is not told of a tamper at every power-off. systemd says "stopping" while it goes down.
func systemShuttingDown() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "systemctl", "is-system-running").Output() // non-zero exit unless "running"
	return strings.TrimSpace(string(out)) == "stopping"
}
