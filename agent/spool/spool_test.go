package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, path string, o Options) *Spool {
	t.Helper()
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func add(t *testing.T, s *Spool, body string) uint64 {
	t.Helper()
	seq, err := s.Add(func(seq uint64) ([]byte, error) { return fmt.Appendf(nil, "%s#%d", body, seq), nil })
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestSequencesSurviveReopenAndAcks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, Options{})
	for want := uint64(1); want <= 3; want++ {
		if got := add(t, s, "r"); got != want {
			t.Fatalf("sequence %d, want %d", got, want)
		}
	}
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Pending != 1 || st.Bytes != int64(len("r#2")) {
		t.Fatalf("stats after acks: %+v", st)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	p, err := s.Pending(0)
	if err != nil || len(p) != 1 || p[0].Sequence != 2 || string(p[0].Body) != "r#2" {
		t.Fatalf("pending after reopen: %+v %v", p, err)
	}
	// Acked sequences are never handed out again.
	if got := add(t, s, "r"); got != 4 {
		t.Fatalf("sequence after reopen %d, want 4", got)
	}
}

func TestFailedBuildConsumesNoSequence(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), Options{})
	defer s.Close()
	if _, err := s.Add(func(uint64) ([]byte, error) { return nil, errors.New("scan failed") }); err == nil {
		t.Fatal("error not returned")
	}
	if got := add(t, s, "r"); got != 1 {
		t.Fatalf("sequence %d, want 1", got)
	}
}

func TestCapEvictsOldestAndCounts(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), Options{MaxBytes: 10})
	defer s.Close()
	for range 5 {
		add(t, s, "abc") // 5 bytes each
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 2 || st.Evicted != 3 || st.LastSequence != 5 || st.Bytes != 10 {
		t.Fatalf("stats %+v", st)
	}
	p, _ := s.Pending(0)
	if p[0].Sequence != 4 || p[1].Sequence != 5 {
		t.Fatalf("kept %+v, want 4 and 5", p)
	}
}

func TestCorruptFileIsReportedAndSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spool.db")
	garbage := make([]byte, 16384)
	for i := range garbage {
		garbage[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open corrupt: %v", err)
	}
	moved, err := SetAside(path, time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(moved); err != nil || len(b) != len(garbage) {
		t.Fatalf("corrupt bytes not kept: %v", err)
	}
	s := open(t, path, Options{})
	defer s.Close()
	if ok, err := s.AdvanceSequence(41); !ok || err != nil {
		t.Fatalf("advance: %v %v", ok, err)
	}
	if got := add(t, s, "r"); got != 42 {
		t.Fatalf("sequence after advance %d, want 42", got)
	}
	if ok, _ := s.AdvanceSequence(10); ok {
		t.Fatal("advance moved the sequence backwards")
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, Options{})
	defer s.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
}

func TestRejectMovesReportOutOfTheQueue(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "spool.db"), Options{})
	defer s.Close()
	add(t, s, "bad")
	add(t, s, "good")
	if err := s.Reject(1, "collector said: invalid"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Pending(0)
	st, _ := s.Stats()
	if len(p) != 1 || p[0].Sequence != 2 || st.Rejected != 1 {
		t.Fatalf("pending %+v stats %+v", p, st)
	}
}

// An error from the OS (here: no permission) is not corruption: the file stays where it is.
func TestOpenOSErrorIsNotCorrupt(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores file modes; a directory in place of the file gives an OS error too
		path := filepath.Join(t.TempDir(), "spool.db")
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := OpenOrSetAside(path, Options{}, nil)
		if err == nil || errors.Is(err, ErrCorrupt) {
			t.Fatalf("directory as spool: %v", err)
		}
		if _, serr := os.Stat(path); serr != nil {
			t.Fatalf("set aside: %v", serr)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "spool.db")
	sp, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	os.Chmod(path, 0)
	_, err = OpenOrSetAside(path, Options{}, nil)
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("unreadable spool: %v", err)
	}
	if _, serr := os.Stat(path); serr != nil {
		t.Fatalf("set aside: %v", serr)
	}
}
