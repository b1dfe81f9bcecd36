package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Load reads and parses a policy file. A rejected file's error wraps an *Error.
func Load(path string) (*Policy, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	return data, nil
}

// fullCheckEvery forces a read every so many polls even when size and modification time are
// unchanged: an edit within the file system's timestamp granularity keeps both.
const fullCheckEvery = 10

// Watch polls the policy file at path every interval until ctx ends. It calls apply with the
// file's policy at start and whenever its content changes. A file that fails to parse is
// logged with every problem and its line, and apply is not called: the running policy stays
// in force. An apply that fails is logged and retried at the next poll. Editors that replace
// the file (write a temporary file and rename it) are followed.
//
// Each poll costs one stat; the file is read and hashed when its size or modification time
// changed, and every tenth poll regardless.
func Watch(ctx context.Context, path string, interval time.Duration, apply func(*Policy) error, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	w := &watcher{path: path, apply: apply, log: log}
	w.poll(true)
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.poll(n%fullCheckEvery == 0)
		}
	}
}

type watcher struct {
	path  string
	apply func(*Policy) error
	log   *slog.Logger

	size    int64
	mtime   time.Time
	done    [sha256.Size]byte // content applied, or rejected (not retried until it changes)
	haveSum bool
	readErr string // last read error logged, so that a missing file is logged once
}

func (w *watcher) poll(force bool) {
	fi, err := os.Stat(w.path)
	if err != nil {
		w.readFailed(err)
		return
	}
	if !force && w.haveSum && fi.Size() == w.size && fi.ModTime().Equal(w.mtime) {
		return
	}
	data, err := readFile(w.path)
	if err != nil {
		w.readFailed(err)
		return
	}
	w.readErr = ""
	w.size, w.mtime = fi.Size(), fi.ModTime()
	sum := sha256.Sum256(data)
	if w.haveSum && bytes.Equal(sum[:], w.done[:]) {
		return
	}
	p, err := Parse(data)
	if err != nil {
		w.done, w.haveSum = sum, true
		var pe *Error
		if errors.As(err, &pe) {
			for _, pr := range pe.Problems {
				w.log.Error("policy rejected; the running policy stays in force", "path", w.path, "line", pr.Line, "key", pr.Path, "problem", pr.Reason)
			}
		} else {
			w.log.Error("policy rejected; the running policy stays in force", "path", w.path, "err", err)
		}
		return
	}
	if err := w.apply(p); err != nil {
		w.log.Error("policy not applied; will retry", "path", w.path, "version", p.Version(), "err", err)
		// Leave done as it was, and the next poll reads the file again.
		w.size, w.mtime = -1, time.Time{}
		return
	}
	w.done, w.haveSum = sum, true
	w.log.Info("policy applied", "path", w.path, "version", p.Version())
}

func (w *watcher) readFailed(err error) {
	if msg := err.Error(); msg != w.readErr {
		w.readErr = msg
		w.log.Error("policy file unreadable; the running policy stays in force", "path", w.path, "err", err)
	}
}
