// Package client is the agent's gRPC connection to the collector: TLS 1.3 pinned to the
// collector CA, the device certificate for mutual TLS (reloaded after renewal), and the calls of
// the wire contract.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// MaxMessageBytes bounds messages in both directions, as the collector does.
const MaxMessageBytes = 2 << 20

// Conn is a connection to the collector.
type Conn struct {
	cc *grpc.ClientConn
	pb.AgentServiceClient
	pb.EnrollmentServiceClient

	mu       sync.RWMutex
	cert     *tls.Certificate
	roots    *x509.CertPool
	sessions sessionCache
}

// sessionCache holds the TLS sessions of one identity. It is emptied when the certificate or
// the pinned CAs change, so that a resumed session never carries an old identity or trust.
type sessionCache struct {
	mu sync.Mutex
	c  tls.ClientSessionCache
}

func (s *sessionCache) reset() {
	s.mu.Lock()
	s.c = tls.NewLRUClientSessionCache(4)
	s.mu.Unlock()
}

func (s *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	return c.Get(key)
}

func (s *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	c.Put(key, cs)
}

// Dial connects to addr (host:port), trusting only roots. cert may be nil for enrollment.
// The connection is lazy: errors surface on the first call.
func Dial(addr string, roots *x509.CertPool, cert *tls.Certificate) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("collector address %q: want host:port", addr)
	}
	if roots == nil {
		return nil, errors.New("no pinned collector CA")
	}
	c := &Conn{cert: cert, roots: roots}
	c.sessions.reset()
	conf := &tls.Config{
		// Collectors close idle connections; resuming the TLS session makes the reconnect
		// cheap (no certificate signatures or chain checks on either side).
		ClientSessionCache: &c.sessions,
		MinVersion:         tls.VersionTLS13,
		ServerName:         host,
		// The collector's chain is verified below against the pinned CAs as they are at each
		// handshake (a CA rotation replaces them while the agent runs), with the same checks
		// as crypto/tls's own: chain, validity, server usage, host name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			c.mu.RLock()
			roots := c.roots
			c.mu.RUnlock()
			return verifyServer(cs.PeerCertificates, roots, host)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.RLock()
			defer c.mu.RUnlock()
			if c.cert == nil {
				return &tls.Certificate{}, nil
			}
			return c.cert, nil
		},
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(credentials.NewTLS(conf)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 60 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c.cc = cc
	c.AgentServiceClient = pb.NewAgentServiceClient(cc)
	c.EnrollmentServiceClient = pb.NewEnrollmentServiceClient(cc)
	return c, nil
}

// verifyServer checks the collector's certificate chain against roots and host.
func verifyServer(chain []*x509.Certificate, roots *x509.CertPool, host string) error {
	if len(chain) == 0 {
		return errors.New("the collector sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("collector certificate is not trusted by the pinned CA (%w); if the collector's CA was rotated while this agent was away, enroll it again", err)
	}
	return nil
}

// SetRoots swaps the pinned collector CAs used by new handshakes (after a CA rotation).
func (c *Conn) SetRoots(roots *x509.CertPool) {
	c.mu.Lock()
	c.roots = roots
	c.mu.Unlock()
	c.sessions.reset()
}

// SetCertificate swaps the client certificate used by new handshakes (after renewal).
func (c *Conn) SetCertificate(cert *tls.Certificate) {
	c.mu.Lock()
	c.cert = cert
	c.mu.Unlock()
	c.sessions.reset()
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c == nil || c.cc == nil {
		return errors.New("not connected")
	}
	return c.cc.Close()
}

// Ready waits until the connection is up or ctx ends, for callers that want a clear
// "cannot reach the collector" before doing work.
func (c *Conn) Ready(ctx context.Context) error {
	c.cc.Connect()
	for {
		s := c.cc.GetState()
		if s.String() == "READY" {
			return nil
		}
		if !c.cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("collector not reachable (last state %s): %w", s, ctx.Err())
		}
	}
}
