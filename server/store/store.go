// Package store is the collector's durable state: devices and their certificates, reports
// with per-device sequence numbers, current findings and facts, enroll secrets, console
// accounts and sessions, and the audit log. SQLite (embedded, the default) implements it here;
// other databases implement the same interface.
package store

import (
	"bytes"
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrRevoked  = errors.New("revoked")
)

// Store is everything the collector keeps. Every method is safe for concurrent use.
type Store interface {
	Close() error

	CreateEnrollSecret(ctx context.Context, s EnrollSecret) error
	EnrollSecrets(ctx context.Context) ([]EnrollSecret, error)
	// EnrollSecretByHash finds a secret by the SHA-256 of its value (revoked ones too).
	EnrollSecretByHash(ctx context.Context, hash []byte) (EnrollSecret, error)
	// RevokeEnrollSecret revokes by id or name; ErrNotFound when neither matches.
	RevokeEnrollSecret(ctx context.Context, idOrName string, at time.Time) (EnrollSecret, error)

	// Enroll records a device (new or re-enrolling with the same key) and its new certificate,
	// and counts the use of the secret, in one transaction.
	Enroll(ctx context.Context, e Enrollment) error
	// AddCertificate records a renewed certificate of an enrolled device.
	AddCertificate(ctx context.Context, c Certificate) error
	// CertificateStatus answers whether a certificate (by serial, decimal) may be used: it returns
	// ErrNotFound for unknown serials and ErrRevoked when it or its device is revoked.
	CertificateStatus(ctx context.Context, serial string) (Certificate, error)
	RevokeDevice(ctx context.Context, id string, at time.Time) error

	// IngestReport stores one report idempotently by (device, sequence) and, when it is the
	// newest, replaces the device's current findings and facts. It returns only after commit.
	IngestReport(ctx context.Context, in Ingest) (IngestResult, error)
	// IngestReports stores a batch in one transaction (one commit, one fsync: group commit),
	// each report exactly as IngestReport would, in order. Per report, errs holds ErrNotFound or
	// ErrRevoked (nothing of that report written); any other failure fails the whole batch
	// (err, nothing written).
	IngestReports(ctx context.Context, batch []Ingest) (res []IngestResult, errs []error, err error)
	// SetAgentHealth records what a heartbeat says about the agent itself and returns what was
	// recorded before (zero values for a device that never sent them).
	SetAgentHealth(ctx context.Context, deviceID string, h AgentHealth) (AgentHealth, error)
	// DeleteCollectorFinding removes one collector-derived finding (by signal and key); it
	// says whether there was one.
	DeleteCollectorFinding(ctx context.Context, deviceID, signal, key string) (bool, error)
	// SilentDevices lists the devices (not revoked) neither seen nor enrolled since cutoff,
	// and whether each already has an agent.silent finding.
	SilentDevices(ctx context.Context, cutoff time.Time) ([]SilentDevice, error)
	// PinningCounts counts the devices seen since since (not revoked) whose agents pin the CA
	// with this fingerprint, and those that do not (or did not say).
	PinningCounts(ctx context.Context, fingerprint string, since time.Time) (pinning, not int, err error)
	// SilentFlaggedSeen lists the devices with an agent.silent finding that were seen after it
	// was last refreshed: they are back.
	SilentFlaggedSeen(ctx context.Context) ([]string, error)
	// HighestSequence is a device's highest stored sequence, read without writing: ErrNotFound
	// for an unknown or revoked device.
	HighestSequence(ctx context.Context, deviceID string) (uint64, error)
	// TouchMany records, in one derived-write transaction, that devices were seen: each
	// device's last_seen moves on to At (never back) and its last address becomes Address.
	// Unknown and revoked devices are skipped.
	TouchMany(ctx context.Context, seen []Seen) error

	Devices(ctx context.Context, f DeviceFilter) (devices []Device, total int, err error)
	Device(ctx context.Context, id string) (Device, error)
	// Findings returns the device's current findings, most severe first.
	Findings(ctx context.Context, deviceID string) ([]Finding, error)
	// Facts returns the facts of the device's newest report and when it was received.
	Facts(ctx context.Context, deviceID string) (*pb.Facts, time.Time, error)
	// SequenceGaps lists the sequence ranges missing below the device's highest stored
	// sequence, above what PruneReports removed.
	SequenceGaps(ctx context.Context, deviceID string) ([]Gap, error)
	// PruneReports deletes up to limit stored reports received before cutoff, oldest first,
	// never a device's newest, and returns how many it deleted. Findings, facts, scores and
	// everything else derived from the reports stay; the pruned range of each device's
	// sequences is no longer reported as a gap.
	PruneReports(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// Report returns one stored report.
	Report(ctx context.Context, deviceID string, seq uint64) (*pb.Report, error)

	CreateUser(ctx context.Context, u User) error
	// PutCollectorFinding adds or refreshes one finding the collector derived (by key), beside
	// those of other detectors.
	PutCollectorFinding(ctx context.Context, deviceID string, f *pb.Finding, at time.Time) error

	// SetUserDisabled disables or re-enables an account; disabling also ends its sessions.
	SetUserDisabled(ctx context.Context, username string, disabled bool) error
	// SetUserRole changes an account's role.
	SetUserRole(ctx context.Context, username, role string) error
	User(ctx context.Context, username string) (User, error)
	Users(ctx context.Context) ([]User, error)

	CreateSession(ctx context.Context, s Session) error
	// Session finds a live (unexpired) session by the SHA-256 of its cookie value.
	Session(ctx context.Context, idHash []byte, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, idHash []byte) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	Audit(ctx context.Context, a AuditEntry) error
	AuditLog(ctx context.Context, limit int) ([]AuditEntry, error)

	// ReplaceCollectorFindings makes fs the device's collector-derived findings, keeping the
	// first_seen of those (by key) that were already current, and records the analysis notes.
	ReplaceCollectorFindings(ctx context.Context, deviceID string, fs []*pb.Finding, notes []string, at time.Time) error

	// ReplacePeople replaces the whole HR import in one transaction.
	ReplacePeople(ctx context.Context, people []Person, at time.Time) error
	People(ctx context.Context) ([]Person, error)
	// PeopleImported returns when the HR import was last replaced and how many rows it has.
	PeopleImported(ctx context.Context) (time.Time, int, error)
	// PersonForDevice finds the employee a device is issued to: by serial number, then by
	// hostname (case-insensitive). ErrNotFound when none.
	PersonForDevice(ctx context.Context, d Device) (Person, error)

	// RecordEgress notes that a device connected from an address (with its geolocation, taken
	// when the address is first seen) and returns the stored row.
	RecordEgress(ctx context.Context, deviceID string, e Egress) (Egress, error)
	// Egresses lists the addresses a device connected from, most recent first.
	Egresses(ctx context.Context, deviceID string) ([]Egress, error)
	// RecordRTT folds one round-trip measurement into the device's minimum over a window of
	// the given length (a new window starts when the old one has run out).
	RecordRTT(ctx context.Context, deviceID string, rtt time.Duration, addr string, at time.Time, window time.Duration) (RTT, error)
	RTT(ctx context.Context, deviceID string) (RTT, error)

	// SetScore records a device's score (a no-op returning ErrNotFound for unknown devices).
	SetScore(ctx context.Context, deviceID string, s Score) error
	SetDeviceGroup(ctx context.Context, deviceID, group string) error
	// DeviceIDs lists every device that is not revoked.
	DeviceIDs(ctx context.Context) ([]string, error)

	// ReplaceFleet makes clusters the fleet's clusters and fs (by device) the fleet findings
	// (detector collector/fleet), in one transaction.
	ReplaceFleet(ctx context.Context, clusters []Cluster, fs map[string][]*pb.Finding, at time.Time) error
	Clusters(ctx context.Context) ([]Cluster, error)

	// SavePolicy records a policy as activated now (a version seen before is re-activated).
	SavePolicy(ctx context.Context, p PolicyRecord) error
	// Policies lists the policy history, newest activation first.
	Policies(ctx context.Context, limit int) ([]PolicyRecord, error)

	SetTriage(ctx context.Context, deviceID string, t Triage) error
	AddNote(ctx context.Context, n Note) (Note, error)
	Notes(ctx context.Context, deviceID string) ([]Note, error)
	// Reports lists a device's stored reports, newest first.
	Reports(ctx context.Context, deviceID string, limit int) ([]ReportSummary, error)
	// Overview aggregates the fleet; signals are counted over the last days.
	Overview(ctx context.Context, now time.Time, days int) (Overview, error)

	// SaveCatalog records a catalog document as activated now; Catalogs lists them, newest
	// activation first; ActiveCatalog returns the newest (ErrNotFound when none was saved).
	SaveCatalog(ctx context.Context, version string, content []byte, by string, at time.Time) error
	Catalogs(ctx context.Context, limit int) ([]CatalogRecord, error)
	ActiveCatalog(ctx context.Context) (CatalogRecord, []byte, error)

	CreateAPIToken(ctx context.Context, t APIToken) error
	// APITokenByHash finds a live (not revoked) token by the SHA-256 of its value and notes its use.
	APITokenByHash(ctx context.Context, hash []byte, now time.Time) (APIToken, error)
	APITokens(ctx context.Context) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, idOrName string, at time.Time) error
}

// Detectors of the findings the collector derives itself.
const (
	DetectorLocation = "collector/location"
	DetectorFleet    = "collector/fleet"
	DetectorAgent    = "collector/agent"
)

// Score is a device's computed score.
type Score struct {
	Value         float64
	Band          string
	Breakdown     []byte
	PolicyVersion string
	At            time.Time
}

// Cluster is a set of devices that share a home.
type Cluster struct {
	ID      string        `json:"id"`
	Members []string      `json:"members"`
	Kinds   []string      `json:"kinds"`
	Links   []ClusterLink `json:"links"`
	First   time.Time     `json:"first"`
	Last    time.Time     `json:"last"`
	Updated time.Time     `json:"updated"`
}

// ClusterLink is one shared value: an egress address, a BSSID, a gateway MAC...
type ClusterLink struct {
	Kind    string    `json:"kind"`
	Value   string    `json:"value"`
	Devices []string  `json:"devices"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// CatalogRecord is one catalog version an administrator put in force.
type CatalogRecord struct {
	Version     string
	CreatedAt   time.Time
	CreatedBy   string
	ActivatedAt time.Time
	Size        int
}

// PolicyRecord is one version of the scoring policy.
type PolicyRecord struct {
	Version     string
	Content     []byte
	CreatedAt   time.Time
	CreatedBy   string
	ActivatedAt time.Time
}

// Person is one row of the HR import: where the employee a device is issued to says they are.
type Person struct {
	EmployeeID     string
	Name           string
	Email          string
	Country        string // ISO 3166-1 alpha-2
	Region         string
	City           string
	TimeZone       string // IANA
	HasCoordinates bool
	Latitude       float64
	Longitude      float64
	Languages      []string // BCP 47 base languages the employee works in, e.g. en, ko
	NightShift     bool
	DeviceSerial   string
	DeviceHostname string
	ImportedAt     time.Time
}

// Egress is an address a device connected to the collector from.
type Egress struct {
	Address   string // IP, no port
	FirstSeen time.Time
	LastSeen  time.Time
	Seen      int
	Country   string
	ASN       uint32
	ASOrg     string
	Class     string
}

// RTT is the smallest round trip the collector measured on a device's connections within the
// current window. Zero Samples means none yet.
type RTT struct {
	Min         time.Duration
	Samples     int
	WindowStart time.Time
	Updated     time.Time
	Address     string
}

// EnrollSecret buys device certificates. Only a hash of its value is stored.
type EnrollSecret struct {
	ID        string
	Name      string
	Hash      []byte // SHA-256 of the secret value
	CreatedAt time.Time
	CreatedBy string
	Group     string    // device group given to the devices it enrolls
	RevokedAt time.Time // zero when active
	Uses      int
	LastUsed  time.Time
}

// Active says whether the secret may still enroll devices.
func (s EnrollSecret) Active() bool { return s.RevokedAt.IsZero() }

// Device is an enrolled laptop as the collector knows it.
type Device struct {
	ID            string
	Hostname      string
	OS            string
	Platform      string
	OSVersion     string
	KernelVersion string
	Arch          string
	HardwareUUID  string
	SerialNumber  string
	MachineID     string
	MACAddresses  []string
	AgentVersion  string
	EnrolledAt    time.Time
	EnrollSecret  string // id of the secret used
	LastSeen      time.Time
	LastAddress   string
	// HighestSequence is the highest report sequence stored for the device.
	HighestSequence uint64
	Reports         int
	FindingsCount   int // current findings
	RevokedAt       time.Time
	// LocationNotes say what the collector's location analysis could not judge, and why.
	LocationNotes []string
	// Group is the device group (from its enroll secret, or set by an admin); policy
	// sanctions tools per group.
	Group string
	// Score, Band and the breakdown (JSON of score.Result) as last computed, under PolicyVersion.
	Score         float64
	Band          string
	Breakdown     []byte
	PolicyVersion string
	ScoredAt      time.Time
	Triage        Triage
	// Agent is what the agent's heartbeats say about itself (Version is AgentVersion's twin
	// from heartbeats and is not filled here).
	Agent AgentHealth
}

// Triage states of a device, as analysts set them.
const (
	TriageNew           = "new"
	TriageInvestigating = "investigating"
	TriageConfirmedFarm = "confirmed_farm"
	TriageBenign        = "benign"
)

// ValidTriage says whether s is a triage state.
func ValidTriage(s string) bool {
	return s == TriageNew || s == TriageInvestigating || s == TriageConfirmedFarm || s == TriageBenign
}

// Triage is where an analyst has got with a device.
type Triage struct {
	State    string
	Reason   string
	Assignee string
	By       string
	At       time.Time
}

// Note is an analyst's note on a device.
type Note struct {
	ID       int64
	DeviceID string
	At       time.Time
	Author   string
	Body     string
}

// APIToken is a bearer token for the REST API. Only the hash of its value is stored.
type APIToken struct {
	ID        string
	Name      string
	Hash      []byte
	Role      string
	CreatedAt time.Time
	CreatedBy string
	LastUsed  time.Time
	RevokedAt time.Time
}

// ReportSummary is one stored report, without its body.
type ReportSummary struct {
	Sequence uint64
	Created  time.Time
	Received time.Time
	Address  string
	Findings int
}

// Overview is the fleet at a glance.
type Overview struct {
	Devices    int
	ByBand     map[string]int // "" = not scored yet
	ByTriage   map[string]int
	ScoreBins  [10]int // devices per score decile: 0-9.9, 10-19.9, ... 90-100
	Clusters   int
	Signals    []SignalDay // findings first seen per day and signal, over the window asked
	NewestHigh []Device    // newest high and critical devices by score time
}

// SignalDay counts findings of a signal first seen on a day (UTC).
type SignalDay struct {
	Day    time.Time
	Signal string
	Count  int
}

// Enrollment is a device with the certificate just issued to it.
type Enrollment struct {
	Device      Device
	Certificate Certificate
}

// Certificate is a client certificate issued to a device.
type Certificate struct {
	Serial    string // decimal
	DeviceID  string
	NotBefore time.Time
	NotAfter  time.Time
	IssuedAt  time.Time
	RevokedAt time.Time
}

// Seen is one device heard from (TouchMany).
type Seen struct {
	DeviceID string
	At       time.Time
	Address  string
}

// Ingest is one report to store.
type Ingest struct {
	DeviceID string
	Report   *pb.Report
	Body     []byte // Report on the wire, as the agent sent it (not canonical: see sameBody)
	// Packed is Body as it is stored, PackBody(Body), worked out by the caller so that the
	// compressing happens outside the store's writer; nil: the store packs Body itself.
	Packed   []byte
	Received time.Time
	Address  string

	incoming *findingSet // the report's findings as stored; see Prepare
}

// Prepare works out, outside the store's writer, what the ingest compares and writes of the
// report's findings (keys, evidence encoded, their digest); the collector calls it in the
// upload's goroutine. Optional: the store does the same work when the caller did not.
func (in *Ingest) Prepare() error {
	fs, err := in.incomingFindings()
	if err != nil {
		return err
	}
	in.incoming = fs
	return nil
}

func (in *Ingest) incomingFindings() (*findingSet, error) {
	if in.incoming != nil {
		return in.incoming, nil
	}
	return newFindingSet(in.Report, in.Received)
}

// stored is what goes into the reports table.
func (in Ingest) stored() []byte {
	if in.Packed != nil {
		return in.Packed
	}
	return PackBody(in.Body)
}

// sameBody says whether a stored body holds the same report as body. Bodies are the agents'
// own bytes, and protobuf leaves the order of map entries to the encoder, so equal reports may
// differ in bytes: those are compared by value. A stored body that does not unpack holds
// nothing the same, so the new one is kept as a conflict.
func sameBody(stored, body []byte) bool {
	plain, err := UnpackBody(stored)
	if err != nil {
		return false
	}
	if bytes.Equal(plain, body) {
		return true
	}
	var a, b pb.Report
	return proto.Unmarshal(plain, &a) == nil && proto.Unmarshal(body, &b) == nil && proto.Equal(&a, &b)
}

// IngestResult tells what IngestReport did.
type IngestResult struct {
	Duplicate       bool
	HighestSequence uint64
	// GapBefore is the number of sequences missing just below this report when it arrived.
	GapBefore uint64
	// Conflict marks a duplicate whose content differs from the stored report of the same
	// sequence: not a retry, but a second agent using this device's identity. The conflicting
	// report is kept apart (report_conflicts), never in place of the stored one.
	Conflict bool
}

// DeviceFilter selects and orders devices for listings.
type DeviceFilter struct {
	Search    string // substring of id, hostname, serial or address
	OS        string
	Band      string    // low, medium, high, critical; "" any
	MinBand   string    // this band or above
	Signal    string    // has a current finding of this signal (or family with ".*")
	Group     string    // device group
	Triage    string    // triage state
	SeenSince time.Time // last seen at or after
	Sort      string    // "last_seen" (default), "hostname", "findings", "enrolled"
	Desc      bool
	Limit     int // default 50, at most 1000
	Offset    int
}

// Finding is one current finding of a device.
type Finding struct {
	DeviceID   string
	Sequence   uint64 // the report it last came in
	Key        string
	Signal     string
	Severity   pb.Severity
	Confidence float64
	Title      string
	Attack     string
	Detector   string
	Evidence   map[string]string
	FirstSeen  time.Time
	LastSeen   time.Time
	// Source is "agent" for what the device reported and "collector" for what the collector
	// derived itself (location signals from the egress address, HR data, round trips).
	Source string
}

// MaxConflictsKept bounds the conflicting reports kept per device (the newest).
const MaxConflictsKept = 1000

// AgentHealth is what heartbeats say about the agent itself.
type AgentHealth struct {
	Evicted  uint64 // reports the agent's spool cap evicted, in total
	SHA256   string // of the running executable
	Platform string // GOOS/GOARCH
	Version  string // agent version
	// PinnedCAs are the fingerprints of the collector CAs the agent pins, sorted and
	// comma-separated ("" when the agent did not say).
	PinnedCAs string
}

// SilentDevice is a device that has not been heard from.
type SilentDevice struct {
	ID         string
	LastSeen   time.Time
	EnrolledAt time.Time
	Flagged    pb.Severity // severity of its agent.silent finding; 0 when it has none
}

// Gap is a run of missing sequences, From..To inclusive.
type Gap struct{ From, To uint64 }

// Roles of console users, least to most privileged.
const (
	RoleViewer  = "viewer"
	RoleAnalyst = "analyst"
	RoleAdmin   = "admin"
)

// ValidRole says whether r is a known role.
func ValidRole(r string) bool { return r == RoleViewer || r == RoleAnalyst || r == RoleAdmin }

// User is a console account.
type User struct {
	Username     string
	PasswordHash string // PHC string, argon2id
	Role         string
	CreatedAt    time.Time
	Disabled     bool
}

// Session is a signed-in console session. Only the hash of the cookie value is stored.
type Session struct {
	IDHash    []byte
	Username  string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEntry records who did what.
type AuditEntry struct {
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
}
