package detect

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

type fixed struct {
	fs  []*pb.Finding
	err error
	pan bool
}

func (f fixed) Detect(context.Context, *Env) ([]*pb.Finding, error) {
	if f.pan {
		panic("boom")
	}
	return f.fs, f.err
}

func TestRunKeepsFailuresApartAndSurvivesPanics(t *testing.T) {
	Register("test_ok", false, func(*slog.Logger) (Detector, error) {
		return fixed{fs: []*pb.Finding{{Signal: "b.x"}, {Signal: "a.x"}}}, nil
	})
	Register("test_na", false, func(*slog.Logger) (Detector, error) { return fixed{err: ErrNotApplicable}, nil })
	Register("test_fail", false, func(*slog.Logger) (Detector, error) { return fixed{err: errors.New("no access")}, nil })
	Register("test_panic", false, func(*slog.Logger) (Detector, error) { return fixed{pan: true}, nil })

	s, err := New(nil, []string{"test_ok", "test_na", "test_fail", "test_panic"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs, sts := s.Run(context.Background(), &Env{Facts: &pb.Facts{}})
	if len(fs) != 2 || fs[0].Signal != "a.x" || fs[0].Detector != "test_ok" {
		t.Fatalf("findings %v", fs)
	}
	got := map[string]*pb.DetectorStatus{}
	for _, st := range sts {
		got[st.Name] = st
	}
	if !got["test_ok"].Ok || got["test_ok"].Findings != 2 {
		t.Errorf("ok: %v", got["test_ok"])
	}
	if !got["test_na"].Ok {
		t.Errorf("not applicable reported as failure: %v", got["test_na"])
	}
	if got["test_fail"].Ok || got["test_fail"].Error != "no access" {
		t.Errorf("fail: %v", got["test_fail"])
	}
	if got["test_panic"].Ok || got["test_panic"].Error != "panic: boom" {
		t.Errorf("panic: %v", got["test_panic"])
	}
	if _, err := New(nil, []string{"nope"}, nil); err == nil {
		t.Error("unknown detector accepted")
	}
}
