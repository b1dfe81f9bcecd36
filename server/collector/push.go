package collector

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Pushes reach an agent two ways. An agent holding a push stream (Subscribe) gets them at
// once; the collector holds at most Limits.PushStreams of those open, because each costs a
// connection's memory for as long as the agent runs. Every other agent gets them in its next
// heartbeat answer: a catalog or policy update when the versions it reports differ, and a
// scan requested since (kept ScanNowTTL, one per device).

// ScanNowTTL is how long a requested scan waits for a device without a push stream.
const ScanNowTTL = time.Hour

// maxPendingScans bounds the scans waiting for heartbeats (one per device).
const maxPendingScans = 1 << 20

// Subscribe implements AgentService: the stream stays open and carries pushes for this device.
// A newer subscription of the same device replaces the older one. Past Limits.PushStreams open
// streams it is refused with RESOURCE_EXHAUSTED and a retry hint; the agent then gets its
// pushes with heartbeats.
func (c *Collector) Subscribe(req *pb.SubscribeRequest, stream grpc.ServerStreamingServer[pb.Push]) error {
	ctx := stream.Context()
	id, _ := DeviceFromContext(ctx)
	ch := make(chan *pb.Push, 16)
	c.mu.Lock()
	old, replacing := c.streams[id]
	if !replacing && len(c.streams) >= c.limits.l.PushStreams {
		c.mu.Unlock()
		c.limits.refused.Add(1)
		return exhausted("the collector holds no more push streams; pushes come with heartbeats", 5*time.Minute)
	}
	if replacing {
		close(old)
	}
	c.streams[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.streams[id] == ch {
			delete(c.streams, id)
		}
		c.mu.Unlock()
	}()
	c.log.Info("agent subscribed", "device", id, "agent_version", req.GetAgentVersion(), "catalog_version", req.GetCatalogVersion())
	for _, p := range c.updatesFor(req.GetCatalogVersion(), req.GetPolicyVersion()) {
		if err := stream.Send(p); err != nil {
			return err
		}
		c.log.Info("update pushed", "device", id, "push", p.GetId())
	}
	if p := c.takeScan(id); p != nil {
		if err := stream.Send(p); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case p, ok := <-ch:
			if !ok {
				return status.Error(codes.Aborted, "replaced by a newer subscription")
			}
			if err := stream.Send(p); err != nil {
				return err
			}
		}
	}
}

// updatesFor returns the catalog and policy pushes an agent running these versions needs.
func (c *Collector) updatesFor(catalogVersion, policyVersion string) []*pb.Push {
	var out []*pb.Push
	if cs := c.cat.Load(); catalogVersion != cs.version {
		out = append(out, &pb.Push{Id: "catalog-" + cs.version, Created: timestamppb.New(c.now()),
			Kind: &pb.Push_Catalog{Catalog: &pb.CatalogUpdate{Version: cs.version, Content: cs.doc}}})
	}
	if p := c.policy.Load(); policyVersion != p.Version() {
		out = append(out, policyPush(p, c.now()))
	}
	return out
}

// heartbeatPushes is what a heartbeat answer carries for a device without a push stream.
// Agents that do not report their catalog version predate pushes in heartbeats and get none.
func (c *Collector) heartbeatPushes(id string, req *pb.HeartbeatRequest) []*pb.Push {
	if req.GetCatalogVersion() == "" {
		return nil
	}
	c.mu.Lock()
	_, live := c.streams[id]
	c.mu.Unlock()
	if live {
		return nil
	}
	out := c.updatesFor(req.GetCatalogVersion(), req.GetPolicyVersion())
	if p := c.takeScan(id); p != nil {
		out = append(out, p)
	}
	return out
}

// Push sends p to a device's open push stream and reports true. Otherwise it reports false;
// a scan request is then kept for the device's next heartbeat (or subscription), replacing
// any older one. Catalog and policy updates need no keeping: heartbeats compare versions.
func (c *Collector) Push(deviceID string, p *pb.Push) bool {
	if p.GetCreated() == nil {
		p.Created = timestamppb.New(c.now())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.streams[deviceID]; ok {
		select {
		case ch <- p:
			return true
		default: // its queue is full: keep a scan for the heartbeat below
		}
	}
	if p.GetScanNow() == nil {
		return false
	}
	if len(c.pendingScans) >= maxPendingScans {
		now := c.now()
		for id, q := range c.pendingScans {
			if now.Sub(q.GetCreated().AsTime()) > ScanNowTTL {
				delete(c.pendingScans, id)
			}
		}
		if len(c.pendingScans) >= maxPendingScans {
			return false
		}
	}
	c.pendingScans[deviceID] = p
	return false
}

// takeScan removes and returns the scan waiting for a device, unless it is past ScanNowTTL.
func (c *Collector) takeScan(id string) *pb.Push {
	c.mu.Lock()
	p, ok := c.pendingScans[id]
	delete(c.pendingScans, id)
	c.mu.Unlock()
	if !ok || c.now().Sub(p.GetCreated().AsTime()) > ScanNowTTL {
		return nil
	}
	return p
}

// Connected lists the devices with an open push stream.
func (c *Collector) Connected() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.streams))
	for id := range c.streams {
		out = append(out, id)
	}
	return out
}
