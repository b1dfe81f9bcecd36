package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// jsonlSink appends events to a file, one JSON object per line, and keeps one rotated file.
type jsonlSink struct {
	path string
	max  int64
	f    *os.File // nil after a failed rotation; reopened on the next batch
	size int64
	buf  bytes.Buffer
}

func newJSONLSink(path string, max int64) (*jsonlSink, error) {
	if path == "" {
		return nil, errors.New("JSONLMaxBytes set without JSONLPath")
	}
	switch {
	case max == 0:
		max = DefaultJSONLMaxBytes
	case max < 0:
		return nil, fmt.Errorf("max bytes %d: must be positive", max)
	}
	s := &jsonlSink{path: path, max: max}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *jsonlSink) open() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s: not a regular file", s.path)
	}
	s.f, s.size = f, st.Size()
	return nil
}

// deliver writes the batch, rotating before any line that would take the file past max, and
// syncs once at the end: the batch is on disk when it counts as sent.
func (s *jsonlSink) deliver(_ context.Context, batch []Event) (int, error) {
	if s.f == nil {
		if err := s.open(); err != nil {
			return 0, err
		}
	}
	sent, pending := 0, 0 // events written; events in buf
	enc := json.NewEncoder(&s.buf)
	s.buf.Reset()
	for _, ev := range batch {
		mark := s.buf.Len()
		if err := enc.Encode(ev); err != nil { // appends the newline
			s.buf.Truncate(mark)
			return sent, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		line := int64(s.buf.Len() - mark)
		if s.size+int64(mark)+line > s.max && s.size+int64(mark) > 0 {
			rest := bytes.Clone(s.buf.Bytes()[mark:])
			s.buf.Truncate(mark)
			if err := s.flush(); err != nil {
				return sent, err
			}
			sent += pending
			pending = 0
			if err := s.rotate(); err != nil {
				return sent, err
			}
			s.buf.Write(rest)
		}
		pending++
	}
	if err := s.flush(); err != nil {
		return sent, err
	}
	return sent + pending, nil
}

// flush writes and syncs buf. A failed write is cut back off the file, so a partial line
// never sits in front of the next good one.
func (s *jsonlSink) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	n, err := s.f.Write(s.buf.Bytes())
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if n > 0 {
			s.f.Truncate(s.size)
		}
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.size += int64(n)
	s.buf.Reset()
	return nil
}

func (s *jsonlSink) rotate() error {
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		return fmt.Errorf("rotate %s: %w", s.path, err)
	}
	return s.open()
}

func (s *jsonlSink) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
