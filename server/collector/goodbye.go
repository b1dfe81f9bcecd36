package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// Goodbye implements AgentService: the agent is about to stop or be removed. It is audited;
// a stop or an uninstall becomes an agent.tamper finding (low when the uninstall presented the
// policy's token, medium for a stop, high for an uninstall without it), so that the silence
// that follows is explained and still seen.
func (c *Collector) Goodbye(ctx context.Context, req *pb.GoodbyeRequest) (*pb.GoodbyeResponse, error) {
	id, _ := DeviceFromContext(ctx)
	reason, actor := req.GetReason(), clipText(req.GetActor(), 128)
	switch reason {
	case "stop", "uninstall", "upgrade", "shutdown":
	default:
		return nil, status.Errorf(codes.InvalidArgument, "goodbye reason %q: want stop, uninstall, upgrade or shutdown", clip(reason))
	}
	now := c.now()
	_ = c.store.Audit(ctx, store.AuditEntry{At: now, Actor: "device:" + id, Action: "agent.goodbye", Target: id,
		Detail: fmt.Sprintf("%s by %q, authorized %v, last sequence %d", reason, actor, req.GetAuthorized(), req.GetLastSequence())})
	c.log.Info("agent says goodbye", "device", id, "reason", reason, "actor", actor, "authorized", req.GetAuthorized())
	var sev pb.Severity
	var title string
	switch {
	case reason == "uninstall" && req.GetAuthorized():
		sev, title = pb.Severity_SEVERITY_LOW, "Agent uninstalled with the policy's uninstall token"
	case reason == "uninstall":
		sev, title = pb.Severity_SEVERITY_HIGH, "Agent uninstalled without the uninstall token"
	case reason == "stop":
		sev, title = pb.Severity_SEVERITY_MEDIUM, "Agent service stopped"
	default:
		return &pb.GoodbyeResponse{}, nil // upgrades and shutdowns are routine
	}
	f := &pb.Finding{Signal: "agent.tamper", Key: "goodbye:" + reason, Severity: sev, Confidence: 0.9, Title: title, Detector: store.DetectorAgent,
		Attack: "T1562.001", Evidence: map[string]string{"reason": reason, "actor": actor, "authorized": strconv.FormatBool(req.GetAuthorized()),
			"last_sequence": strconv.FormatUint(req.GetLastSequence(), 10), "recognised_by": "the agent's goodbye before it went"}}
	if err := c.store.PutCollectorFinding(ctx, id, f, now); err != nil {
		c.log.Error("goodbye finding", "device", id, "err", err)
		return nil, status.Error(codes.Unavailable, "collector store unavailable")
	}
	if _, err := c.Rescore(ctx, id); err != nil {
		c.log.Warn("score", "device", id, "err", err)
	}
	return &pb.GoodbyeResponse{}, nil
}

// clipText bounds a device-supplied string at a rune boundary.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
