// Package collector is the gRPC side of the collector: enrollment, report ingest with durable
// acknowledgements, heartbeats, certificate renewal and the push stream to connected agents.
// Everything an agent sends is untrusted: it is size-limited and validated before it is stored.
package collector

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/geoip"
	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// MaxMessageBytes bounds every message in both directions; reports are far smaller in practice.
const MaxMessageBytes = 2 << 20

// Options configure a Collector.
type Options struct {
	Store  store.Store
	CA     *pki.CA
	Logger *slog.Logger
	// CertTTL is the lifetime of device certificates (default 7 days); agents renew after
	// two thirds of it.
	CertTTL time.Duration
	Now     func() time.Time
	// Catalog is the signature document pushed to agents whose catalog version differs
	// (default: the one built into this binary). It is validated here.
	Catalog []byte
	// Geo geolocates egress addresses and remote peers; nil turns the location signals that
	// need it off, and GeoDisabled says why (logged and shown with the device).
	Geo         *geoip.DB
	GeoDisabled string
	// Policy is the scoring policy in force at start (default policy.Default()); its location
	// section sets the thresholds of the location signals.
	Policy *policy.Policy
	// CollectorAt is where the collector stands, for the round-trip bound (nil: bound off).
	CollectorAt *location.Coordinates
	// OnEvent hears band changes and new clusters (exports); nil drops them. It must not block.
	OnEvent func(Event)
	// RTTWindow is how long the smallest measured round trip is kept (default 7 days).
	RTTWindow time.Duration
	// Limits bound agent calls (back-pressure); zero values take the defaults.
	Limits Limits
	// SettleEvery is how often at most one device's derived state (location analysis, score)
	// is recomputed after its calls; what arrives meanwhile is coalesced. 0: after every call.
	SettleEvery time.Duration
}

// Collector serves EnrollmentService and AgentService.
type Collector struct {
	pb.UnimplementedEnrollmentServiceServer
	pb.UnimplementedAgentServiceServer
	store store.Store
	ca    *pki.CA
	log   *slog.Logger
	ttl   time.Duration
	now   func() time.Time

	cat atomic.Pointer[catalogState]

	geo         *geoip.DB
	geoDisabled string
	loc         atomic.Pointer[location.Config]
	policy      atomic.Pointer[policy.Policy]
	correlateMu sync.Mutex
	collectorAt *location.Coordinates
	onEvent     func(Event)
	stats       counters
	rttWindow   time.Duration
	trackers    []*connTracker
	limits      *limiter
	trusted     string // pinnedSet of the CAs this collector trusts (fixed for the process)
	ingest      *batcher
	settle      *settler
	seen        seenBuffer
	certs       certCache
	obsMu       sync.Mutex
	obs         map[string]observation
	healthMu    sync.Mutex
	health      map[string]healthSeen

	mu           sync.Mutex
	streams      map[string]chan *pb.Push
	pendingScans map[string]*pb.Push // scans waiting for a device without a push stream
}

// New returns a Collector.
func New(o Options) (*Collector, error) {
	if o.Store == nil || o.CA == nil {
		return nil, errors.New("collector needs a store and a CA")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CertTTL <= 0 {
		o.CertTTL = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Catalog == nil {
		o.Catalog = catalog.DefaultDocument()
	}
	cat, err := catalog.Parse(o.Catalog)
	if err != nil {
		return nil, err
	}
	if o.Policy == nil {
		o.Policy = policy.Default()
	}
	if o.RTTWindow <= 0 {
		o.RTTWindow = 7 * 24 * time.Hour
	}
	if o.Geo == nil && o.GeoDisabled == "" {
		o.GeoDisabled = "no geolocation database configured"
	}
	c := &Collector{store: o.Store, ca: o.CA, log: o.Logger, ttl: o.CertTTL, now: o.Now, streams: map[string]chan *pb.Push{}, pendingScans: map[string]*pb.Push{},
		geo: o.Geo, geoDisabled: o.GeoDisabled, rttWindow: o.RTTWindow, collectorAt: o.CollectorAt, onEvent: o.OnEvent,
		limits: newLimiter(o.Limits), ingest: newBatcher(o.Store), settle: newSettler(o.SettleEvery)}
	go c.runSettler(context.Background())
	go c.runSeen()
	var fps []string
	for _, t := range o.CA.Trusted() {
		fps = append(fps, pki.Fingerprint(t))
	}
	c.trusted = pinnedSet(fps)
	c.cat.Store(&catalogState{doc: o.Catalog, version: cat.Version})
	c.policy.Store(o.Policy)
	c.applyLocation(o.Policy)
	return c, nil
}

// TLSConfig is the listener's TLS: TLS 1.3 only, a server certificate from the collector CA for
// hosts, client certificates optional at the handshake (enrollment has none) but, when given,
// verified against the CA and checked against the store for revocation.
func (c *Collector) TLSConfig(hosts []string) (*tls.Config, error) {
	der, key, err := c.ca.IssueServer(hosts, c.now(), 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, c.ca.Cert.Raw}, PrivateKey: key}},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    c.ca.Pool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			if _, err := c.checkCertFresh(context.Background(), cs.PeerCertificates[0]); err != nil {
				c.log.Warn("rejected client certificate at handshake", "reason", err, "serial", cs.PeerCertificates[0].SerialNumber.String())
				return err
			}
			return nil
		},
	}
	if err := c.setTicketKeys(conf, time.Now()); err != nil {
		return nil, err
	}
	go c.rotateTicketKeys(conf)
	return conf, nil
}

// setTicketKeys gives conf the session-ticket keys of now's UTC day (to issue tickets) and of
// the day before (to accept them), derived from the CA key (pki.CA.SessionTicketKey).
func (c *Collector) setTicketKeys(conf *tls.Config, now time.Time) error {
	day := now.UTC().Unix() / 86400
	var keys [][32]byte
	for _, d := range []int64{day, day - 1} {
		k, err := c.ca.SessionTicketKey(d)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	conf.SetSessionTicketKeys(keys)
	return nil
}

// rotateTicketKeys moves conf's ticket keys on at every UTC midnight, for the process's life.
func (c *Collector) rotateTicketKeys(conf *tls.Config) {
	for {
		now := time.Now().UTC()
		time.Sleep(now.Truncate(24 * time.Hour).Add(24*time.Hour + time.Second).Sub(now))
		if err := c.setTicketKeys(conf, time.Now()); err != nil {
			c.log.Error("TLS session ticket keys not rotated; agents will do full handshakes", "err", err)
		}
	}
}

// checkCert maps a verified client certificate to its device id, refusing unknown or revoked ones.
func (c *Collector) checkCert(ctx context.Context, cert *x509.Certificate) (string, error) {
	id, ok := strings.CutPrefix(cert.Subject.CommonName, pki.DeviceIDPrefix)
	if !ok {
		return "", errors.New("certificate is not a device certificate")
	}
	if want, err := pki.DeviceID(cert.PublicKey); err != nil || want != id {
		return "", errors.New("certificate device id does not match its key")
	}
	st, err := c.store.CertificateStatus(ctx, cert.SerialNumber.String())
	switch {
	case errors.Is(err, store.ErrRevoked):
		return "", errors.New("certificate or device revoked")
	case errors.Is(err, store.ErrNotFound):
		return "", errors.New("certificate unknown to this collector")
	case err != nil:
		return "", fmt.Errorf("certificate status: %w", err)
	}
	if st.DeviceID != id {
		return "", errors.New("certificate issued to another device")
	}
	return id, nil
}

// Server returns a gRPC server with both services registered, the TLS credentials, message
// limits, keepalive and the authentication interceptors.
func (c *Collector) Server(tlsConf *tls.Config) *grpc.Server {
	s := grpc.NewServer(c.serverOptions(tlsConf)...)
	pb.RegisterEnrollmentServiceServer(s, c)
	pb.RegisterAgentServiceServer(s, c)
	return s
}

// serverOptions are Server's options: shared with the ingest-floor benchmark, which serves
// the same transport with an AgentService that stores nothing.
func (c *Collector) serverOptions(tlsConf *tls.Config) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		// Open connections decide the memory of a large fleet: idle ones are closed
		// (Limits.IdleClose), push streams are capped (Limits.PushStreams), and buffers are
		// small; reports are read in a few reads either way.
		grpc.ReadBufferSize(8 << 10),
		grpc.WriteBufferSize(8 << 10),
		grpc.ConnectionTimeout(10 * time.Second), // the TLS handshake
		grpc.InitialConnWindowSize(64 << 10),
		grpc.InitialWindowSize(64 << 10),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second, MaxConnectionIdle: c.limits.l.IdleClose}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 30 * time.Second, PermitWithoutStream: true}),
		grpc.ForceServerCodecV2(newCodec()),
		grpc.UnaryInterceptor(c.unaryAuth),
		grpc.StreamInterceptor(c.streamAuth),
	}
}

type deviceKey struct{}

// DeviceFromContext returns the authenticated device id of an AgentService call.
func DeviceFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(deviceKey{}).(string)
	return id, ok
}

func (c *Collector) authenticate(ctx context.Context, method string) (context.Context, error) {
	if strings.HasPrefix(method, "/"+pb.EnrollmentService_ServiceDesc.ServiceName+"/") {
		return ctx, nil
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.PeerCertificates) == 0 {
		c.log.Warn("rejected call without a client certificate", "method", method, "addr", p.Addr.String())
		return nil, status.Error(codes.Unauthenticated, "a device certificate is required: enroll first")
	}
	cert := ti.State.PeerCertificates[0]
	now := c.now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, status.Error(codes.Unauthenticated, "device certificate is outside its validity period: enroll again")
	}
	id, err := c.checkCertCached(ctx, cert)
	if err != nil {
		c.log.Warn("rejected device certificate", "method", method, "reason", err, "addr", p.Addr.String())
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return context.WithValue(ctx, deviceKey{}, id), nil
}

func (c *Collector) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx = takeRaw(ctx, req) // first, whatever follows: see codec
	ctx, err := c.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return c.limitUnary(ctx, info.FullMethod, func() (any, error) { return h(ctx, req) })
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s authedStream) Context() context.Context { return s.ctx }

func (c *Collector) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := c.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if err := c.limitStream(ctx, info.FullMethod); err != nil {
		return err
	}
	return h(srv, authedStream{ss, ctx})
}

func remoteAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
		return p.Addr.String()
	}
	return ""
}

// HashSecret is how enroll secrets are looked up: SHA-256 of the value.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Enroll implements EnrollmentService.
func (c *Collector) Enroll(ctx context.Context, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	addr := remoteAddr(ctx)
	secret := req.GetEnrollSecret()
	if secret == "" || len(secret) > 256 {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", "missing or oversized secret", "addr", addr)
		return nil, status.Error(codes.PermissionDenied, "invalid enroll secret")
	}
	es, err := c.store.EnrollSecretByHash(ctx, HashSecret(secret))
	if errors.Is(err, store.ErrNotFound) {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", "unknown enroll secret", "addr", addr)
		return nil, status.Error(codes.PermissionDenied, "invalid enroll secret")
	}
	if err != nil {
		c.log.Error("enroll secret lookup", "err", err)
		return nil, status.Error(codes.Unavailable, "collector store unavailable")
	}
	if !es.Active() {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", "revoked enroll secret", "secret", es.Name, "addr", addr)
		return nil, status.Error(codes.PermissionDenied, "enroll secret revoked")
	}
	if err := validateIdentity(req.GetHardware()); err != nil {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", err, "addr", addr)
		return nil, status.Errorf(codes.InvalidArgument, "hardware identity: %v", err)
	}
	if len(req.GetAgentVersion()) > 64 {
		return nil, status.Error(codes.InvalidArgument, "agent version longer than 64 bytes")
	}
	csr, err := pki.ParseCSR(req.GetCsrDer())
	if err != nil {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", err, "addr", addr)
		return nil, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	id, err := pki.DeviceID(csr.PublicKey)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	now := c.now()
	cert, err := c.ca.IssueDevice(csr, id, now, c.ttl)
	if err != nil {
		c.log.Error("issue device certificate", "err", err)
		return nil, status.Error(codes.Internal, "could not issue certificate")
	}
	hw := req.GetHardware()
	err = c.store.Enroll(ctx, store.Enrollment{
		Device: store.Device{
			ID: id, Hostname: hw.GetHostname(), OS: hw.GetOs(), Platform: hw.GetPlatform(), OSVersion: hw.GetOsVersion(),
			KernelVersion: hw.GetKernelVersion(), Arch: hw.GetArch(), HardwareUUID: hw.GetHardwareUuid(),
			SerialNumber: hw.GetSerialNumber(), MachineID: hw.GetMachineId(), MACAddresses: hw.GetMacAddresses(),
			AgentVersion: req.GetAgentVersion(), EnrolledAt: now, EnrollSecret: es.ID, LastAddress: addr,
		},
		Certificate: certRecord(cert, id, now),
	})
	if errors.Is(err, store.ErrRevoked) {
		c.stats.enrollRefused.Add(1)
		c.log.Warn("enrollment refused", "reason", "device revoked", "device", id, "addr", addr)
		return nil, status.Error(codes.PermissionDenied, "this device is revoked")
	}
	if err != nil {
		c.log.Error("store enrollment", "err", err, "device", id)
		return nil, status.Error(codes.Unavailable, "collector store unavailable")
	}
	c.stats.enrolled.Add(1)
	c.log.Info("device enrolled", "device", id, "hostname", hw.GetHostname(), "secret", es.Name, "addr", addr, "not_after", cert.NotAfter)
	return &pb.EnrollResponse{
		DeviceId:          id,
		CertificateDer:    cert.Raw,
		CaCertificatesDer: c.ca.TrustedDER(),
		NotAfter:          timestamppb.New(cert.NotAfter),
		RenewAfter:        timestamppb.New(renewAfter(cert)),
	}, nil
}

func certRecord(cert *x509.Certificate, id string, now time.Time) store.Certificate {
	return store.Certificate{Serial: cert.SerialNumber.String(), DeviceID: id, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, IssuedAt: now}
}

func renewAfter(cert *x509.Certificate) time.Time {
	return cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) * 2 / 3)
}

// Renew implements AgentService: a new certificate for the same key.
func (c *Collector) Renew(ctx context.Context, req *pb.RenewRequest) (*pb.RenewResponse, error) {
	id, _ := DeviceFromContext(ctx)
	csr, err := pki.ParseCSR(req.GetCsrDer())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	if kid, err := pki.DeviceID(csr.PublicKey); err != nil || kid != id {
		c.log.Warn("renewal refused", "reason", "CSR key differs from the device key", "device", id)
		return nil, status.Error(codes.PermissionDenied, "renewal must keep the device key")
	}
	now := c.now()
	cert, err := c.ca.IssueDevice(csr, id, now, c.ttl)
	if err != nil {
		return nil, status.Error(codes.Internal, "could not issue certificate")
	}
	if err := c.store.AddCertificate(ctx, certRecord(cert, id, now)); err != nil {
		c.log.Error("store renewed certificate", "err", err, "device", id)
		return nil, status.Error(codes.Unavailable, "collector store unavailable")
	}
	c.log.Info("device certificate renewed", "device", id, "not_after", cert.NotAfter)
	return &pb.RenewResponse{
		CertificateDer:    cert.Raw,
		CaCertificatesDer: c.ca.TrustedDER(),
		NotAfter:          timestamppb.New(cert.NotAfter),
		RenewAfter:        timestamppb.New(renewAfter(cert)),
	}, nil
}

// UploadReport implements AgentService. The acknowledgement is sent only after the store has
// committed the report.
func (c *Collector) UploadReport(ctx context.Context, req *pb.UploadReportRequest) (*pb.UploadReportResponse, error) {
	id, _ := DeviceFromContext(ctx)
	rep := req.GetReport()
	if err := ValidateReport(rep); err != nil {
		c.stats.reportsRefused.Add(1)
		c.log.Warn("report refused", "device", id, "sequence", rep.GetSequence(), "reason", err)
		return nil, status.Errorf(codes.InvalidArgument, "report: %v", err)
	}
	body := rawReport(ctx) // as the agent sent it (see codec)
	if body == nil {
		var err error
		if body, err = (proto.MarshalOptions{Deterministic: true}).Marshal(rep); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "report: %v", err)
		}
	}
	// Compressed and prepared here, in the upload's goroutine, not in the store's single writer.
	in := store.Ingest{DeviceID: id, Report: rep, Body: body, Packed: store.PackBody(body), Received: c.now(), Address: remoteAddr(ctx)}
	if err := in.Prepare(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "report: %v", err)
	}
	res, err := c.ingest.ingest(ctx, in)
	switch {
	case errors.Is(err, store.ErrRevoked):
		return nil, status.Error(codes.PermissionDenied, "device revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.PermissionDenied, "device unknown")
	case err != nil:
		c.log.Error("store report", "device", id, "sequence", rep.GetSequence(), "err", err)
		return nil, status.Error(codes.Unavailable, "collector store unavailable; retry")
	}
	rescore := false
	switch {
	case res.Conflict:
		c.stats.reportsConflict.Add(1)
		if err := c.duplicateIdentity(ctx, id, rep.GetSequence()); err != nil {
			c.log.Error("duplicate identity finding", "device", id, "err", err)
		}
		rescore = true
	case res.Duplicate:
		c.stats.reportsDuplicate.Add(1)
		c.log.Info("replayed report acknowledged without storing", "device", id, "sequence", rep.GetSequence())
	case res.GapBefore > 0:
		c.log.Warn("sequence gap", "device", id, "sequence", rep.GetSequence(), "missing", res.GapBefore)
		if _, err := c.checkGaps(ctx, id); err != nil {
			c.log.Error("sequence gap finding", "device", id, "err", err)
		}
	default:
		c.log.Debug("report stored", "device", id, "sequence", rep.GetSequence(), "findings", len(rep.GetFindings()))
	}
	if !res.Duplicate {
		c.stats.reportsStored.Add(1)
	}
	if !res.Duplicate && res.HighestSequence == rep.GetSequence() {
		// The report is committed: location and score follow, without holding the answer.
		c.after(ctx, id, true)
	}
	if rescore {
		if _, err := c.Rescore(ctx, id); err != nil {
			c.log.Warn("score", "device", id, "err", err)
		}
	}
	return &pb.UploadReportResponse{Sequence: rep.GetSequence(), Stored: true, Duplicate: res.Duplicate, HighestSequence: res.HighestSequence}, nil
}

// Heartbeat implements AgentService.
func (c *Collector) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	id, _ := DeviceFromContext(ctx)
	now := c.now()
	highest, err := c.store.HighestSequence(ctx, id)
	if err != nil {
		c.log.Error("heartbeat", "device", id, "err", err)
		return nil, status.Error(codes.Unavailable, "collector store unavailable")
	}
	c.seen.note(store.Seen{DeviceID: id, At: now, Address: remoteAddr(ctx)}) // written within SeenEvery
	c.stats.heartbeats.Add(1)
	c.after(ctx, id, false)
	resp := &pb.HeartbeatResponse{ServerTime: timestamppb.New(now), HighestSequence: highest, Pushes: c.heartbeatPushes(id, req)}
	h := c.healthFromHeartbeat(id, req)
	if h.PinnedCAs != c.trusted {
		resp.CaCertificatesDer = c.ca.TrustedDER()
		c.log.Info("sending the collector CA bundle", "device", id, "agent_pins", h.PinnedCAs, "trusted", c.trusted)
	}
	if changed, err := c.agentHealth(ctx, id, h, req.GetClockRollback()); err != nil {
		c.log.Warn("agent health", "device", id, "err", err)
	} else if changed {
		if _, err := c.Rescore(ctx, id); err != nil {
			c.log.Warn("score", "device", id, "err", err)
		}
	}
	return resp, nil
}
