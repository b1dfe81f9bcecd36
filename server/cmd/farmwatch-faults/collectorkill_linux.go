package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/enroll"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/host"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// simDevice is one simulated device: its own key and certificate, its own connection.
type simDevice struct {
	id    string
	host  *pb.HardwareIdentity
	conns []*client.Conn // each attempt goes to one of them at random (several with replicas)
	acked []uint64       // sequences acknowledged as stored, in order
	sent  uint64         // highest sequence attempted
	dups  int            // acknowledgements flagged Duplicate (a retry of a committed report)
	err   error
}

// baseReport runs one real scan of this machine, as the agent does.
func baseReport(ctx context.Context) (*pb.Report, error) {
	log := slog.New(slog.DiscardHandler)
	dets, err := detect.New(log, nil, nil)
	if err != nil {
		return nil, err
	}
	return (&scan.Scanner{Detectors: dets, AgentVersion: agentVersion, Log: log}).Scan(ctx)
}

// collectorKill is scenario 2: devices upload over mutual TLS while the collector is killed
// with SIGKILL and restarted on the same data directory and port.
func collectorKill(ctx context.Context, o *options, r *result) error {
	dir := filepath.Join(o.tmp, "collector-kill")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	col, err := newCollector(o, dir)
	if err != nil {
		return err
	}
	r.logs = []string{col.log}
	if err := col.start(ctx); err != nil {
		return err
	}
	defer col.stop()
	secret, err := col.secret(ctx, "faults-sim")
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(col.caPath())
	if err != nil {
		return err
	}
	base, err := baseReport(ctx)
	if err != nil {
		return err
	}
	fl, err := enrollSims(ctx, dir, "faults-sim", 0, o.devices, func(int) string { return col.addr }, []string{col.addr}, caPEM, secret)
	if err != nil {
		return err
	}
	defer fl.close()
	fl.upload(ctx, o, base, 1)

	// The kills: each after a random 200-1500 ms of the collector accepting connections.
	uptimesWithAcks := 0
	for i := 0; i < o.collectorKills && ctx.Err() == nil; i++ {
		before := fl.acked.Load()
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(200+o.rng.IntN(1301)) * time.Millisecond):
		}
		if fl.acked.Load() > before {
			uptimesWithAcks++
		}
		if err := col.kill9(); err != nil {
			fl.stop()
			return err
		}
		r.kills++
		if err := col.start(ctx); err != nil {
			fl.stop()
			return fmt.Errorf("restart %d: %w", i+1, err)
		}
	}
	fl.stop() // each device finishes the report in hand (until acknowledged)
	if err := col.stop(); err != nil {
		return err
	}
	devs := fl.devs
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.id
	}
	views, err := readStore(ctx, col.dbPath(), ids)
	if err != nil {
		return err
	}
	dups, notAcked, mismatch, gaps := 0, 0, 0, 0
	for _, d := range devs {
		v := views[d.id]
		if d.err != nil {
			r.fail("device %s: %v", d.host.Hostname, d.err)
		}
		r.sent += int(d.sent)
		r.acked += len(d.acked)
		dups += d.dups
		acked := map[uint64]bool{}
		for _, s := range d.acked {
			acked[s] = true
			if v.count[s] == 0 {
				r.lost++
			}
		}
		for s, n := range v.count {
			r.stored++
			if n > 1 {
				r.dupped++
			}
			if !acked[s] {
				notAcked++
			}
		}
		mismatch += v.mismatch
		gaps += len(v.gaps)
		if len(d.acked) == 0 {
			r.fail("device %s: nothing acknowledged (no progress)", d.host.Hostname)
		}
	}
	if r.lost > 0 {
		r.fail("%d acknowledged reports not stored", r.lost)
	}
	if r.dupped > 0 {
		r.fail("%d sequences stored more than once", r.dupped)
	}
	if mismatch > 0 {
		r.fail("%d stored reports carry another sequence than their row", mismatch)
	}
	if gaps > 0 {
		r.fail("%d sequence gaps in the store", gaps)
	}
	if r.kills > 0 && uptimesWithAcks == 0 {
		r.fail("no report acknowledged between any two kills (no progress)")
	}
	r.note("%d retries deduplicated; %d stored never acknowledged; acks in %d/%d uptimes; %d devices, %d collector starts; retried errors: %s",
		dups, notAcked, uptimesWithAcks, r.kills, len(devs), col.starts, fl.codesString())
	return nil
}

// simFleet is a scenario's simulated devices and their uploaders.
type simFleet struct {
	devs     []*simDevice
	conns    []*client.Conn
	stopping atomic.Bool
	acked    atomic.Int64
	wg       sync.WaitGroup
	codesMu  sync.Mutex
	codes    map[string]int // retried errors by gRPC code
}

// enrollSims enrolls n simulated devices (named prefix-NN; identities offset by idBase so that
// scenarios sharing a collector never collide) through the real Enroll RPC at enrollAt(i), each
// with its own key and one connection to every address of addrs.
func enrollSims(ctx context.Context, dir, prefix string, idBase, n int, enrollAt func(i int) string, addrs []string, caPEM []byte, secret string) (*simFleet, error) {
	id, err := host.Read(ctx, "")
	if err != nil && id.Hostname == "" {
		return nil, fmt.Errorf("host identity: %w", err)
	}
	fl := &simFleet{codes: map[string]int{}}
	for i := range n {
		hw := proto.Clone(scan.Identity(id)).(*pb.HardwareIdentity)
		hw.Hostname = fmt.Sprintf("%s-%02d", prefix, i+1)
		hw.MachineId = fmt.Sprintf("%032x", idBase+i+1)
		hw.SerialNumber = fmt.Sprintf("FAULTS%04d", idBase+i+1)
		hw.HardwareUuid = fmt.Sprintf("00000000-0000-4000-8000-%012d", idBase+i+1)
		sd, err := state.Open(filepath.Join(dir, fmt.Sprintf("dev-%02d", i+1)))
		if err != nil {
			fl.close()
			return nil, err
		}
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rec, err := enroll.Enroll(ectx, sd, enroll.Request{Server: enrollAt(i), CAPEM: caPEM, Secret: secret, Hardware: hw, AgentVersion: agentVersion})
		cancel()
		if err != nil {
			fl.close()
			return nil, fmt.Errorf("enroll simulated device %d: %w", i+1, err)
		}
		roots, err := sd.CAPool()
		if err != nil {
			fl.close()
			return nil, err
		}
		cert, _, err := sd.Certificate()
		if err != nil {
			fl.close()
			return nil, err
		}
		d := &simDevice{id: rec.DeviceID, host: hw}
		for _, addr := range addrs {
			conn, err := client.Dial(addr, roots, &cert)
			if err != nil {
				fl.close()
				return nil, err
			}
			fl.conns = append(fl.conns, conn)
			d.conns = append(d.conns, conn)
		}
		fl.devs = append(fl.devs, d)
	}
	return fl, nil
}

func (fl *simFleet) close() {
	for _, c := range fl.conns {
		c.Close()
	}
}

// upload starts one uploader per device: sequences 1, 2, ... (up to o.reports when set), each
// retried until acknowledged, until stop.
func (fl *simFleet) upload(ctx context.Context, o *options, base *pb.Report, seed uint64) {
	for i, d := range fl.devs {
		fl.wg.Add(1)
		rng := rand.New(rand.NewPCG(uint64(i)+seed, o.rng.Uint64()))
		go func() {
			defer fl.wg.Done()
			for seq := uint64(1); o.reports == 0 || seq <= uint64(o.reports); seq++ {
				if fl.stopping.Load() || ctx.Err() != nil {
					return
				}
				d.sent = seq
				dup, err := uploadUntilAcked(ctx, d, base, seq, rng, func(c codes.Code) {
					fl.codesMu.Lock()
					fl.codes[c.String()]++
					fl.codesMu.Unlock()
				})
				if err != nil {
					d.err = err
					return
				}
				d.acked = append(d.acked, seq)
				fl.acked.Add(1)
				if dup {
					d.dups++
				}
			}
		}()
	}
}

// stop lets every uploader finish the report in hand (until acknowledged) and waits for them.
func (fl *simFleet) stop() {
	fl.stopping.Store(true)
	fl.wg.Wait()
}

func (fl *simFleet) codesString() string { return formatCodes(fl.codes, &fl.codesMu) }

// uploadUntilAcked uploads report seq until the collector acknowledges it as stored,
// retrying on any error with a short jittered backoff (or the delay of a RetryInfo detail).
func uploadUntilAcked(ctx context.Context, d *simDevice, base *pb.Report, seq uint64, rng *rand.Rand, count func(codes.Code)) (bool, error) {
	deadline := time.Now().Add(60 * time.Second)
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		rep := proto.Clone(base).(*pb.Report)
		rep.Sequence, rep.Created = seq, timestamppb.Now()
		conn := d.conns[rng.IntN(len(d.conns))]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := conn.UploadReport(cctx, &pb.UploadReportRequest{Report: rep})
		cancel()
		if err == nil {
			if !resp.GetStored() || resp.GetSequence() != seq {
				return false, fmt.Errorf("report %d: acknowledgement for %d, stored=%v", seq, resp.GetSequence(), resp.GetStored())
			}
			return resp.GetDuplicate(), nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		st := status.Convert(err)
		count(st.Code())
		if time.Now().After(deadline) {
			return false, fmt.Errorf("report %d not acknowledged after %d attempts: %v", seq, attempt, err)
		}
		wait := backoff/2 + time.Duration(rng.Int64N(int64(backoff/2)+1))
		for _, det := range st.Details() {
			if ri, ok := det.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
				wait = min(ri.GetRetryDelay().AsDuration(), 10*time.Second)
			}
		}
		backoff = min(2*backoff, 500*time.Millisecond)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func formatCodes(m map[string]int, mu *sync.Mutex) string {
	mu.Lock()
	defer mu.Unlock()
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
