package api

import (
	"encoding/json"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// The wire shapes: snake_case fields, times in UTC (RFC 3339), zero times left out.

type triageJSON struct {
	State    string    `json:"state"`
	Reason   string    `json:"reason"`
	Assignee string    `json:"assignee"`
	By       string    `json:"by"`
	At       time.Time `json:"at,omitzero"`
}

// deviceJSON is a device in listings.
type deviceJSON struct {
	ID          string     `json:"id"`
	Hostname    string     `json:"hostname"`
	OS          string     `json:"os"`
	OSVersion   string     `json:"os_version"`
	Group       string     `json:"group"`
	Score       float64    `json:"score"`
	Band        string     `json:"band"` // "" until scored
	Triage      triageJSON `json:"triage"`
	Findings    int        `json:"findings"`
	LastSeen    time.Time  `json:"last_seen,omitzero"`
	LastAddress string     `json:"last_address"`
	Revoked     bool       `json:"revoked"`
}

// deviceDetailJSON is one device with everything known about it. Its findings field (a list)
// shadows the listing's count, which moves to findings_count.
type deviceDetailJSON struct {
	deviceJSON
	Platform      string          `json:"platform"`
	KernelVersion string          `json:"kernel_version"`
	Arch          string          `json:"arch"`
	SerialNumber  string          `json:"serial_number"`
	HardwareUUID  string          `json:"hardware_uuid"`
	MACAddresses  []string        `json:"mac_addresses"`
	AgentVersion  string          `json:"agent_version"`
	EnrolledAt    time.Time       `json:"enrolled_at,omitzero"`
	RevokedAt     time.Time       `json:"revoked_at,omitzero"`
	Reports       int             `json:"reports"`
	PolicyVersion string          `json:"policy_version"`
	ScoredAt      time.Time       `json:"scored_at,omitzero"`
	FindingsCount int             `json:"findings_count"`
	Breakdown     json.RawMessage `json:"breakdown"` // score.Result as stored; null until scored
	Findings      []findingJSON   `json:"findings"`
	Notes         []noteJSON      `json:"notes"`
	LocationNotes []string        `json:"location_notes"`
}

type findingJSON struct {
	DeviceID   string            `json:"device_id"`
	Key        string            `json:"key"`
	Signal     string            `json:"signal"`
	Severity   string            `json:"severity"`
	Confidence float64           `json:"confidence"`
	Title      string            `json:"title"`
	Attack     string            `json:"attack"`
	Detector   string            `json:"detector"`
	Source     string            `json:"source"`
	Evidence   map[string]string `json:"evidence"`
	Sequence   uint64            `json:"sequence"`
	FirstSeen  time.Time         `json:"first_seen,omitzero"`
	LastSeen   time.Time         `json:"last_seen,omitzero"`
}

type noteJSON struct {
	ID       int64     `json:"id"`
	DeviceID string    `json:"device_id"`
	At       time.Time `json:"at"`
	Author   string    `json:"author"`
	Body     string    `json:"body"`
}

type clusterJSON struct {
	ID      string     `json:"id"`
	Members []string   `json:"members"`
	Kinds   []string   `json:"kinds"`
	Links   []linkJSON `json:"links"`
	First   time.Time  `json:"first,omitzero"`
	Last    time.Time  `json:"last,omitzero"`
	Updated time.Time  `json:"updated,omitzero"`
}

type linkJSON struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Devices []string  `json:"devices"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
}

type policyRecordJSON struct {
	Version     string    `json:"version"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	CreatedBy   string    `json:"created_by"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
}

type auditJSON struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

type problemJSON struct {
	Line   int    `json:"line"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func toDevice(d store.Device) deviceJSON {
	return deviceJSON{
		ID:        d.ID,
		Hostname:  d.Hostname,
		OS:        d.OS,
		OSVersion: d.OSVersion,
		Group:     d.Group,
		Score:     d.Score,
		Band:      d.Band,
		Triage: triageJSON{
			State: d.Triage.State, Reason: d.Triage.Reason, Assignee: d.Triage.Assignee,
			By: d.Triage.By, At: d.Triage.At.UTC(),
		},
		Findings:    d.FindingsCount,
		LastSeen:    d.LastSeen.UTC(),
		LastAddress: d.LastAddress,
		Revoked:     !d.RevokedAt.IsZero(),
	}
}

func toDetail(d store.Device, fs []store.Finding, ns []store.Note) deviceDetailJSON {
	out := deviceDetailJSON{
		deviceJSON:    toDevice(d),
		Platform:      d.Platform,
		KernelVersion: d.KernelVersion,
		Arch:          d.Arch,
		SerialNumber:  d.SerialNumber,
		HardwareUUID:  d.HardwareUUID,
		MACAddresses:  nonNil(d.MACAddresses),
		AgentVersion:  d.AgentVersion,
		EnrolledAt:    d.EnrolledAt.UTC(),
		RevokedAt:     d.RevokedAt.UTC(),
		Reports:       d.Reports,
		PolicyVersion: d.PolicyVersion,
		ScoredAt:      d.ScoredAt.UTC(),
		FindingsCount: d.FindingsCount,
		Breakdown:     json.RawMessage("null"),
		Findings:      toFindings(fs),
		Notes:         make([]noteJSON, 0, len(ns)),
		LocationNotes: nonNil(d.LocationNotes),
	}
	// The breakdown is passed through as stored; should it ever not be JSON, leave it out
	// rather than fail the whole response.
	if len(d.Breakdown) > 0 && json.Valid(d.Breakdown) {
		out.Breakdown = json.RawMessage(d.Breakdown)
	}
	for _, n := range ns {
		out.Notes = append(out.Notes, toNote(n))
	}
	return out
}

func toFindings(fs []store.Finding) []findingJSON {
	out := make([]findingJSON, 0, len(fs))
	for _, f := range fs {
		ev := f.Evidence
		if ev == nil {
			ev = map[string]string{}
		}
		out = append(out, findingJSON{
			DeviceID: f.DeviceID, Key: f.Key, Signal: f.Signal, Severity: policy.SeverityName(f.Severity),
			Confidence: f.Confidence, Title: f.Title, Attack: f.Attack, Detector: f.Detector, Source: f.Source,
			Evidence: ev, Sequence: f.Sequence, FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(),
		})
	}
	return out
}

func toNote(n store.Note) noteJSON {
	return noteJSON{ID: n.ID, DeviceID: n.DeviceID, At: n.At.UTC(), Author: n.Author, Body: n.Body}
}

func toCluster(c store.Cluster) clusterJSON {
	out := clusterJSON{
		ID: c.ID, Members: nonNil(c.Members), Kinds: nonNil(c.Kinds), Links: make([]linkJSON, 0, len(c.Links)),
		First: c.First.UTC(), Last: c.Last.UTC(), Updated: c.Updated.UTC(),
	}
	for _, l := range c.Links {
		out.Links = append(out.Links, linkJSON{Kind: l.Kind, Value: l.Value, Devices: nonNil(l.Devices), First: l.First.UTC(), Last: l.Last.UTC()})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
