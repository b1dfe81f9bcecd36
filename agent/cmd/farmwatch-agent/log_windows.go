package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/kardianos/service"
)

// serviceLog is the agent's log when it runs: the Application Event Log (source
// farmwatch-agent, registered by install) under the SCM, stderr in a console.
func serviceLog(s service.Service, lvl slog.Leveler, stderr io.Writer) (*slog.Logger, func(), error) {
	if service.Interactive() {
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), func() {}, nil
	}
	l, err := s.Logger(nil)
	if err != nil {
		return nil, nil, err
	}
	buf := &bytes.Buffer{}
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{} // the Event Log has its own time and level
		}
		return a
	}})
	return slog.New(&eventLogHandler{mu: &sync.Mutex{}, buf: buf, text: text, out: l}), func() {}, nil
}

// eventLogHandler keeps slog as the front end and hands each formatted record to the
// kardianos Event Log writer at the matching level.
type eventLogHandler struct {
	mu   *sync.Mutex
	buf  *bytes.Buffer
	text slog.Handler // writes into buf
	out  service.Logger
}

func (h *eventLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimSuffix(h.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.out.Error(msg)
	case r.Level >= slog.LevelWarn:
		return h.out.Warning(msg)
	}
	return h.out.Info(msg)
}

func (h *eventLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventLogHandler{mu: h.mu, buf: h.buf, text: h.text.WithAttrs(as), out: h.out}
}

func (h *eventLogHandler) WithGroup(name string) slog.Handler {
	return &eventLogHandler{mu: h.mu, buf: h.buf, text: h.text.WithGroup(name), out: h.out}
}
