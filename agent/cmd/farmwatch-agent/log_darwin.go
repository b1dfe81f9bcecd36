package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kardianos/service"

	"github.com/farmwatch/farmwatch/agent/config"
)

// maxLogBytes is the size at which the log file is moved to agent.log.1 at start-up.
const maxLogBytes = 10 << 20

// serviceLog is the agent's log when it runs: /Library/Logs/Farmwatch/agent.log under launchd
// (Console.app shows it under Log Reports), stderr in a terminal.
func serviceLog(_ service.Service, lvl slog.Leveler, stderr io.Writer) (*slog.Logger, func(), error) {
	opts := &slog.HandlerOptions{Level: lvl}
	if service.Interactive() {
		return slog.New(slog.NewTextHandler(stderr, opts)), func() {}, nil
	}
	path := config.DefaultPaths("darwin", os.Getenv).LogFile
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogBytes {
		_ = os.Rename(path, path+".1") // one generation is enough to read what led to a restart
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewTextHandler(f, opts)), func() { f.Close() }, nil
}
