package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// parityScenario drives most of the Store interface (the methods the other tests leave out
// too) and logs every answer; every backend must log the same.
func parityScenario(t *testing.T, s Store) []string {
	ctx := context.Background()
	var log []string
	add := func(op string, v ...any) {
		var parts []string
		for _, x := range v {
			switch x := x.(type) {
			case error:
				parts = append(parts, errClass(x))
			case nil:
				parts = append(parts, "<nil>")
			default:
				parts = append(parts, fmt.Sprintf("%+v", x))
			}
		}
		log = append(log, op+": "+strings.Join(parts, " | "))
	}
	devC := "cccc000000000000cccc000000000003"
	h1, h2 := []byte("hash-1"), []byte("hash-2")

	_, _, err := s.ActiveCatalog(ctx)
	add("active catalog, none", err)
	add("secret", s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es1", Name: "Zeta", Hash: h1, CreatedAt: t0, CreatedBy: "cli", Group: "g1"}))
	add("secret", s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es2", Name: "alpha", Hash: h2, CreatedAt: t0}))
	add("secret dup hash", s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es3", Name: "other", Hash: h1, CreatedAt: t0}))
	add("secret dup id", s.CreateEnrollSecret(ctx, EnrollSecret{ID: "es1", Name: "other", Hash: []byte("h3"), CreatedAt: t0}))
	ss, err := s.EnrollSecrets(ctx)
	add("secrets", ss, err)
	_, err = s.EnrollSecretByHash(ctx, []byte("nope"))
	add("secret by unknown hash", err)
	e, err := s.RevokeEnrollSecret(ctx, "es2", t0.Add(time.Minute))
	add("revoke secret", e, err)
	e, err = s.RevokeEnrollSecret(ctx, "alpha", t0.Add(2*time.Minute))
	add("revoke secret again", e, err)

	for i, id := range []string{devA, devB, devC} {
		add("enroll", s.Enroll(ctx, Enrollment{
			Device:      Device{ID: id, Hostname: []string{"beta", "Alpha", "alpha-2"}[i], OS: "linux", SerialNumber: "SER-" + id[:2], EnrolledAt: t0.Add(time.Duration(i) * time.Minute), EnrollSecret: "es1", MACAddresses: []string{"m" + id[:2]}},
			Certificate: Certificate{Serial: fmt.Sprint(100 + i), DeviceID: id, NotBefore: t0, NotAfter: t0.Add(time.Hour), IssuedAt: t0},
		}))
	}
	add("re-enroll", s.Enroll(ctx, Enrollment{
		Device:      Device{ID: devA, Hostname: "beta", OS: "linux", EnrolledAt: t0.Add(time.Hour), LastAddress: "10.1.1.1"},
		Certificate: Certificate{Serial: "200", DeviceID: devA, NotBefore: t0, NotAfter: t0.Add(time.Hour), IssuedAt: t0.Add(time.Hour)},
	}))
	add("renewal", s.AddCertificate(ctx, Certificate{Serial: "201", DeviceID: devB, NotBefore: t0, NotAfter: t0.Add(time.Hour), IssuedAt: t0}))
	add("renewal dup serial", s.AddCertificate(ctx, Certificate{Serial: "201", DeviceID: devB, NotBefore: t0, NotAfter: t0.Add(time.Hour), IssuedAt: t0}) != nil)
	c, err := s.CertificateStatus(ctx, "200")
	add("cert status", c, err)
	_, err = s.CertificateStatus(ctx, "999")
	add("cert status unknown", err)
	ss, _ = s.EnrollSecrets(ctx)
	add("secret uses", ss)

	rep := func(seq uint64, fs ...*pb.Finding) *pb.Report {
		r := report(seq, fs...)
		r.AgentVersion = "1.2.3"
		return r
	}
	in := func(id string, r *pb.Report, at time.Duration) Ingest {
		body, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		return Ingest{DeviceID: id, Report: r, Body: body, Received: t0.Add(at), Address: "192.0.2." + id[:1]}
	}
	fa := &pb.Finding{Signal: "remote_tool.running", Key: "anydesk", Title: "AnyDesk", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.5, Evidence: map[string]string{"b": "2", "a": "1"}}
	fb := &pb.Finding{Signal: "kvm.usb", Title: "PiKVM", Severity: pb.Severity_SEVERITY_CRITICAL, FirstSeen: timestamppb.New(t0.Add(-time.Hour))}
	fc := &pb.Finding{Signal: "Kvm.Display", Key: "edid", Severity: pb.Severity_SEVERITY_CRITICAL}
	for _, step := range []Ingest{
		in(devA, rep(1, fa), time.Minute), in(devA, rep(2, fa, fb), 2*time.Minute), in(devA, rep(5, fa, fc), 3*time.Minute),
		in(devA, rep(3, fb), 4*time.Minute), in(devA, rep(5, fa, fc), 5*time.Minute), in(devA, rep(5, fb), 6*time.Minute),
		in(devB, rep(1, fb, fb), time.Minute), in(devC, rep(1), time.Minute),
	} {
		r, err := s.IngestReport(ctx, step)
		add(fmt.Sprintf("ingest %s/%d", step.DeviceID[:4], step.Report.GetSequence()), r, err)
	}
	for _, id := range []string{devA, devB} {
		fs, err := s.Findings(ctx, id)
		add("findings "+id[:4], fs, err)
		gaps, err := s.SequenceGaps(ctx, id)
		add("gaps", gaps, err)
		rs, err := s.Reports(ctx, id, 2)
		add("reports", rs, err)
		facts, at, err := s.Facts(ctx, id)
		add("facts", facts.GetHost().GetHostname(), at, err)
	}
	r, err := s.Report(ctx, devA, 3)
	add("report 3", r.GetSequence(), len(r.GetFindings()), err)
	_, _, err = s.Facts(ctx, "unknown")
	add("facts unknown", err)

	add("touch", s.TouchMany(ctx, []Seen{{DeviceID: devA, At: t0.Add(10 * time.Minute), Address: "198.51.100.1"}}))
	hi, err := s.HighestSequence(ctx, devA)
	add("highest", hi, err)
	add("touch older", s.TouchMany(ctx, []Seen{{DeviceID: devA, At: t0, Address: "198.51.100.2"}}))
	da, err := s.Device(ctx, devA)
	add("touched", da.LastSeen, da.LastAddress, err)
	add("touch unknown", s.TouchMany(ctx, []Seen{{DeviceID: "unknown", At: t0}}))
	_, err = s.HighestSequence(ctx, "unknown")
	add("highest unknown", err)
	h := AgentHealth{Evicted: 3, SHA256: "abc", Platform: "linux/amd64", Version: "1.2.3", PinnedCAs: "fpA,fpB"}
	prev, err := s.SetAgentHealth(ctx, devA, h)
	add("agent health", prev, err)
	prev, err = s.SetAgentHealth(ctx, devA, h)
	add("agent health same", prev, err)
	_, err = s.SetAgentHealth(ctx, "unknown", h)
	add("agent health unknown", err)
	s.SetAgentHealth(ctx, devB, AgentHealth{PinnedCAs: "fpB"})
	p, n, err := s.PinningCounts(ctx, "fpA", t0)
	add("pinning fpA", p, n, err)
	p, n, err = s.PinningCounts(ctx, "fpB", t0.Add(5*time.Minute))
	add("pinning fpB since", p, n, err)

	silent := &pb.Finding{Signal: "agent.silent", Key: "silent", Title: "silent", Severity: pb.Severity_SEVERITY_MEDIUM, Detector: DetectorAgent, Evidence: map[string]string{"days": "3"}}
	add("put collector finding", s.PutCollectorFinding(ctx, devC, silent, t0.Add(2*time.Minute)))
	silent2 := proto.Clone(silent).(*pb.Finding)
	silent2.Severity = pb.Severity_SEVERITY_HIGH
	add("put collector finding again", s.PutCollectorFinding(ctx, devC, silent2, t0.Add(3*time.Minute)))
	add("put collector finding over an agent one", s.PutCollectorFinding(ctx, devA, &pb.Finding{Signal: "remote_tool.running", Key: "anydesk", Severity: pb.Severity_SEVERITY_LOW}, t0))
	add("put collector finding unknown", s.PutCollectorFinding(ctx, "unknown", silent, t0))
	sd, err := s.SilentDevices(ctx, t0.Add(9*time.Minute))
	add("silent", sd, err)
	back, err := s.SilentFlaggedSeen(ctx)
	add("back", back, err)
	s.TouchMany(ctx, []Seen{{DeviceID: devC, At: t0.Add(20 * time.Minute)}})
	back, err = s.SilentFlaggedSeen(ctx)
	add("back after touch", back, err)
	ok, err := s.DeleteCollectorFinding(ctx, devC, "agent.silent", "silent")
	add("delete collector finding", ok, err)
	ok, err = s.DeleteCollectorFinding(ctx, devC, "agent.silent", "silent")
	add("delete collector finding again", ok, err)
	ok, err = s.DeleteCollectorFinding(ctx, "unknown", "agent.silent", "silent")
	add("delete collector finding unknown", ok, err)
	d, err := s.Device(ctx, devC)
	add("device C", d, err)

	add("score", s.SetScore(ctx, devA, Score{Value: 95, Band: "critical", Breakdown: []byte(`{}`), At: t0}))
	add("score", s.SetScore(ctx, devB, Score{Value: 100, Band: "critical", At: t0.Add(time.Minute)}))
	add("score", s.SetScore(ctx, devC, Score{Value: 49.99, Band: "medium", At: t0}))
	for _, f := range []DeviceFilter{
		{}, {Sort: "hostname"}, {Sort: "hostname", Desc: true}, {Sort: "findings", Desc: true}, {Sort: "score"}, {Sort: "enrolled", Limit: 1, Offset: 1},
		{Search: "ALPHA"}, {Search: "%"}, {Search: "ser-"}, {Signal: "kvm.*"}, {Signal: "KVM.*"}, {OS: "linux", Group: "g1", MinBand: "medium"}, {Offset: 10},
	} {
		ds, total, err := s.Devices(ctx, f)
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID[:4])
		}
		add(fmt.Sprintf("devices %+v", f), ids, total, err)
	}
	d, err = s.Device(ctx, devA)
	add("device A", d, err)
	o, err := s.Overview(ctx, t0.Add(time.Hour), 7)
	add("overview", o, err)

	add("user", s.CreateUser(ctx, User{Username: "zed", PasswordHash: "x", Role: RoleAdmin, CreatedAt: t0}))
	add("user", s.CreateUser(ctx, User{Username: "Amy", PasswordHash: "y", Role: RoleViewer, CreatedAt: t0, Disabled: true}))
	us, err := s.Users(ctx)
	add("users", us, err)
	_, err = s.User(ctx, "nobody")
	add("unknown user", err)
	add("session", s.CreateSession(ctx, Session{IDHash: []byte("s1"), Username: "zed", CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	add("session of unknown user", s.CreateSession(ctx, Session{IDHash: []byte("s2"), Username: "nobody", CreatedAt: t0, ExpiresAt: t0}) != nil)
	add("delete session", s.DeleteSession(ctx, []byte("s1")))
	_, err = s.Session(ctx, []byte("s1"), t0)
	add("deleted session", err)
	for i := range 3 {
		add("audit", s.Audit(ctx, AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "zed", Action: fmt.Sprint("act", i), Target: "t", Detail: "d"}))
	}
	al, err := s.AuditLog(ctx, 2)
	add("audit log", al, err)

	for i, v := range []string{"c1", "c2", "c1"} {
		add("catalog", s.SaveCatalog(ctx, v, []byte("content of "+v), "zed", t0.Add(time.Duration(i)*time.Minute)))
	}
	cs, err := s.Catalogs(ctx, 10)
	add("catalogs", cs, err)
	cr, content, err := s.ActiveCatalog(ctx)
	add("active catalog", cr, string(content), err)
	add("token", s.CreateAPIToken(ctx, APIToken{ID: "t2", Name: "b", Hash: []byte("th2"), Role: RoleAnalyst, CreatedAt: t0}))
	add("token", s.CreateAPIToken(ctx, APIToken{ID: "t1", Name: "a", Hash: []byte("th1"), Role: RoleViewer, CreatedAt: t0}))
	add("token dup", s.CreateAPIToken(ctx, APIToken{ID: "t1", Name: "c", Hash: []byte("th3"), Role: RoleViewer, CreatedAt: t0}))
	tok, err := s.APITokenByHash(ctx, []byte("th1"), t0.Add(30*time.Second))
	add("token by hash, within the minute", tok, err)
	ts, err := s.APITokens(ctx)
	add("tokens", ts, err)
	add("revoke unknown token", s.RevokeAPIToken(ctx, "zz", t0))

	at, np, err := s.PeopleImported(ctx)
	add("people imported, none", at, np, err)
	add("people", s.ReplacePeople(ctx, []Person{{EmployeeID: "e2", DeviceHostname: "ALPHA"}, {EmployeeID: "E1", DeviceSerial: "SER-cc", Languages: []string{"ko"}}}, t0))
	at, np, err = s.PeopleImported(ctx)
	add("people imported", at, np, err)
	ps, err := s.People(ctx)
	add("people", ps, err)
	pe, err := s.PersonForDevice(ctx, Device{ID: "x", Hostname: "alpha"})
	add("person by hostname", pe, err)

	eg, err := s.RecordEgress(ctx, devA, Egress{Address: "203.0.113.9", LastSeen: t0.Add(time.Hour), ASN: 4294967295})
	add("egress", eg, err)
	eg, err = s.RecordEgress(ctx, devA, Egress{Address: "203.0.113.9", LastSeen: t0})
	add("egress older", eg, err)
	rt, err := s.RecordRTT(ctx, "unknown", time.Millisecond, "", t0, time.Hour)
	add("rtt unknown", rt, err)

	add("revoke", s.RevokeDevice(ctx, devC, t0.Add(time.Hour)))
	res, errs, err := s.IngestReports(ctx, []Ingest{in(devC, rep(2), time.Hour), in(devB, rep(2, fa), time.Hour), in("unknown", rep(1), time.Hour), in(devB, rep(2, fa), time.Hour)})
	add("batch", res, errs, err)
	ids, err := s.DeviceIDs(ctx)
	add("ids", ids, err)
	o, err = s.Overview(ctx, t0.Add(time.Hour), 7)
	add("overview after revoke", o.Devices, o.ByBand, o.ScoreBins, o.Signals, err)
	n2, err := s.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour))
	add("expired sessions", n2, err)
	return log
}

// errClass keeps what callers can rely on: the sentinel errors, with their messages.
func errClass(err error) string {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) || errors.Is(err, ErrRevoked) {
		return "error: " + err.Error()
	}
	return "error (other)"
}

func TestBackendsAgree(t *testing.T) {
	logs := map[string][]string{}
	forEachStore(t, func(t *testing.T, s Store) {
		logs[t.Name()[strings.LastIndex(t.Name(), "/")+1:]] = parityScenario(t, s)
	})
	a, b := logs["sqlite"], logs["postgres"]
	if a == nil || b == nil {
		t.Skip("needs both backends")
	}
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			t.Errorf("step %d differs:\n  sqlite:   %s\n  postgres: %s", i, x, y)
		}
	}
}
