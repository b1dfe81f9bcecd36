//go:build !windows && !darwin

package main

import (
	"io"
	"log/slog"

	"github.com/kardianos/service"
)

// serviceLog is the agent's log when it runs: stderr, which journald records under systemd
// (`journalctl -u farmwatch-agent`) and a terminal shows otherwise.
func serviceLog(_ service.Service, lvl slog.Leveler, stderr io.Writer) (*slog.Logger, func(), error) {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), func() {}, nil
}
