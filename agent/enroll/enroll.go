// Package enroll performs the agent's enrollment: it makes (or reuses) the agent's own key
// pair, pins the collector CA, sends a CSR with the enroll secret and the hardware identity,
// and stores the short-lived client certificate it gets back.
package enroll

import (
	"context"
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/state"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Request is what enrollment needs.
type Request struct {
	Server       string // host:port of the collector's gRPC listener
	CAPEM        []byte // the collector CA to pin
	Secret       string
	Hardware     *pb.HardwareIdentity
	AgentVersion string
}

// Enroll enrolls the agent whose state lives in dir and returns its record.
func Enroll(ctx context.Context, dir state.Dir, req Request) (state.Record, error) {
	if req.Secret == "" {
		return state.Record{}, fmt.Errorf("enroll secret is empty")
	}
	roots, err := state.PoolFromPEM(req.CAPEM)
	if err != nil {
		return state.Record{}, fmt.Errorf("collector CA: %w", err)
	}
	key, _, err := dir.Key()
	if err != nil {
		return state.Record{}, err
	}
	csr, err := state.CSR(key, req.Hardware.GetHostname())
	if err != nil {
		return state.Record{}, err
	}
	conn, err := client.Dial(req.Server, roots, nil)
	if err != nil {
		return state.Record{}, err
	}
	defer conn.Close()
	resp, err := conn.Enroll(ctx, &pb.EnrollRequest{EnrollSecret: req.Secret, CsrDer: csr, Hardware: req.Hardware, AgentVersion: req.AgentVersion})
	if err != nil {
		return state.Record{}, fmt.Errorf("enroll with %s: %w", req.Server, err)
	}
	// Pin the CA only once the collector proved it holds it (the TLS handshake verified it).
	if err := dir.SaveCA(req.CAPEM); err != nil {
		return state.Record{}, err
	}
	rec := state.Record{
		Server: req.Server, DeviceID: resp.GetDeviceId(), EnrolledAt: time.Now().UTC(),
		NotAfter: resp.GetNotAfter().AsTime(), RenewAfter: resp.GetRenewAfter().AsTime(),
	}
	if err := dir.SaveEnrollment(key, resp.GetCertificateDer(), rec); err != nil {
		return state.Record{}, err
	}
	return rec, nil
}
