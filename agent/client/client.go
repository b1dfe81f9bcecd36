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

	mu   sync.RWMutex
	cert *tls.Certificate
}

// Dial connects to addr (host:port), trusting only roots. cert may be nil for enrollment.
// The connection is lazy: errors surface on the first call.
func Dial(addr string, roots *x509.CertPool, cert *tls.Certificate) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("collector address %q: want host:port", addr)
	}
	c := &Conn{cert: cert}
	conf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    roots,
		ServerName: host,
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

// SetCertificate swaps the client certificate used by new handshakes (after renewal).
func (c *Conn) SetCertificate(cert *tls.Certificate) {
	c.mu.Lock()
	c.cert = cert
	c.mu.Unlock()
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
