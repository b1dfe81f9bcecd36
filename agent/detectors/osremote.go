// Package detectors holds Farmwatch's detectors, one file each; importing the package
// registers them with agent/detect.
package detectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("os_remote", true, newOSRemote)
}

// osRemote reports OS remote-access servers (RDP, VNC) listening for connections: the
// precondition for driving the laptop from elsewhere without a third-party tool.
type osRemote struct{}

func newOSRemote(*slog.Logger) (detect.Detector, error) { return osRemote{}, nil }

func (osRemote) Detect(_ context.Context, env *detect.Env) ([]*pb.Finding, error) {
	if env.Catalog == nil {
		return nil, errors.New("no catalog")
	}
	byPort := map[uint32]catalog.Listener{}
	for _, l := range env.Catalog.OSRemoteListeners {
		for _, p := range l.Ports {
			byPort[p] = l
		}
	}
	var out []*pb.Finding
	seen := map[string]bool{}
	for _, p := range env.Facts.GetProcesses() {
		for _, s := range p.GetSockets() {
			if s.GetState() != "LISTEN" || (s.GetProtocol() != "tcp" && s.GetProtocol() != "tcp6") {
				continue
			}
			l, ok := byPort[s.GetLocalPort()]
			if !ok {
				continue
			}
			key := l.ID + ":" + strconv.Itoa(int(s.GetLocalPort()))
			if seen[key] {
				continue // the same server on IPv4 and IPv6
			}
			seen[key] = true
			known := false
			for _, n := range l.Processes {
				if n == p.GetName() {
					known = true
				}
			}
			loopback := net.ParseIP(s.GetLocalAddress()).IsLoopback()
			sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.6
			if known {
				conf = 0.9
			}
			if loopback {
				// Reachable only through a tunnel or from this machine: still worth a look.
				sev, conf = pb.Severity_SEVERITY_LOW, conf-0.3
			}
			out = append(out, &pb.Finding{
				Signal:     "os_remote.enabled",
				Severity:   sev,
				Confidence: conf,
				Title:      fmt.Sprintf("%s listening on port %d (%s)", l.Name, s.GetLocalPort(), p.GetName()),
				Attack:     l.Attack,
				Key:        key,
				Evidence: map[string]string{
					"service":    l.ID,
					"process":    p.GetName(),
					"pid":        strconv.Itoa(int(p.GetPid())),
					"executable": p.GetExecutable(),
					"listen":     net.JoinHostPort(s.GetLocalAddress(), strconv.Itoa(int(s.GetLocalPort()))),
					"known_name": strconv.FormatBool(known),
				},
			})
		}
	}
	return out, nil
}
