package export

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// RFC 5424 constants. 32473 is the private enterprise number RFC 5612 reserves for
// documentation; a deployment with its own number can change sdID.
const (
	facilityLocal0 = 16
	sdID           = "farmwatch@32473"

	sevCrit    = 2
	sevErr     = 3
	sevWarning = 4
	sevNotice  = 5

	syslogDialTimeout  = 10 * time.Second
	syslogWriteTimeout = 30 * time.Second

	maxValueBytes   = 256  // any one SD value but members
	maxMembersBytes = 4096 // keeps a message under the 8192 octets RFC 5425 receivers should take
)

type syslogSink struct {
	network, address string
	tls              *tls.Config // for network "tls"
	app, host, pid   string
	retry            retryPolicy
	log              *slog.Logger

	conn   net.Conn     // nil until first use and after a failure
	closed *atomic.Bool // set when the receiver has closed conn
}

func newSyslogSink(c Syslog, retry retryPolicy, log *slog.Logger) (*syslogSink, string, error) {
	if c.Network != "tcp" && c.Network != "tls" {
		return nil, "", fmt.Errorf("network %q: want tcp or tls", c.Network)
	}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, "", fmt.Errorf("address %q: want host:port: %w", c.Address, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, "", fmt.Errorf("address %q: port must be 1-65535", c.Address)
	}
	if host == "" {
		return nil, "", fmt.Errorf("address %q: no host", c.Address)
	}
	s := &syslogSink{network: c.Network, address: c.Address, retry: retry, log: log, pid: strconv.Itoa(os.Getpid())}
	if c.Network == "tls" {
		if c.TLS != nil {
			s.tls = c.TLS.Clone()
		} else {
			s.tls = &tls.Config{}
		}
		if s.tls.ServerName == "" {
			s.tls.ServerName = host
		}
		s.tls.MinVersion = max(s.tls.MinVersion, tls.VersionTLS12)
	} else if c.TLS != nil {
		return nil, "", fmt.Errorf("%s: TLS config given for network tcp; use network tls", c.Address)
	}
	app := c.AppName
	if app == "" {
		app = DefaultAppName
	}
	if s.app = headerField(app, 48); s.app != app {
		return nil, "", fmt.Errorf("app name %q: want 1-48 printable ASCII characters, no spaces", app)
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname() // "-" (nil value) when unknown
	}
	s.host = headerField(hostname, 255)
	return s, "syslog:" + c.Network + "://" + c.Address, nil
}

func (s *syslogSink) deliver(ctx context.Context, batch []Event) (int, error) {
	var buf []byte
	for _, ev := range batch {
		msg := formatRFC5424(ev, s.host, s.app, s.pid)
		buf = strconv.AppendInt(buf, int64(len(msg)), 10) // RFC 6587 §3.4.1 octet counting
		buf = append(buf, ' ')
		buf = append(buf, msg...)
	}
	for attempt := 1; ; attempt++ {
		err := s.write(ctx, buf)
		if err == nil {
			return len(batch), nil
		}
		s.drop()
		// Syslog has no acknowledgements: a batch whose write failed may have partly
		// arrived, and is sent whole again (receivers dedupe on id).
		wait := s.retry.delay(attempt)
		s.log.Warn("export: syslog unreachable, retrying", "address", s.address, "attempt", attempt, "wait", wait, "err", err)
		if !sleep(ctx, wait) {
			return 0, fmt.Errorf("%s: %w (gave up at close after %d attempts)", s.address, err, attempt)
		}
	}
}

func (s *syslogSink) write(ctx context.Context, buf []byte) error {
	if s.conn != nil && s.closed.Load() {
		s.drop()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	c := s.conn
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	c.SetWriteDeadline(time.Now().Add(syslogWriteTimeout))
	if _, err := c.Write(buf); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (s *syslogSink) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, syslogDialTimeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if s.network == "tls" {
		c, err = (&tls.Dialer{Config: s.tls}).DialContext(ctx, "tcp", s.address)
	} else {
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.address)
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.network, err)
	}
	// Syslog receivers never send, so a read only ends when the receiver closes or resets
	// the connection. Watching for that keeps the next batch from going into a connection
	// the receiver already closed, where TCP would accept it and lose it.
	closed := new(atomic.Bool)
	go func() {
		io.Copy(io.Discard, c)
		closed.Store(true)
	}()
	s.conn, s.closed = c, closed
	return nil
}

func (s *syslogSink) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

func (s *syslogSink) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// severity maps an event to an RFC 5424 severity: by the band moved into, warning for a new
// cluster, notice otherwise.
func severity(ev Event) int {
	if ev.Kind == KindNewCluster {
		return sevWarning
	}
	switch ev.To {
	case "critical":
		return sevCrit
	case "high":
		return sevErr
	case "medium":
		return sevWarning
	}
	return sevNotice
}

// formatRFC5424 renders ev as an RFC 5424 message (without transport framing):
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [farmwatch@32473 k="v"...] MSG
//
// host and app are already valid header fields.
func formatRFC5424(ev Event, host, app, pid string) []byte {
	b := make([]byte, 0, 512)
	b = append(b, '<')
	b = strconv.AppendInt(b, facilityLocal0*8+int64(severity(ev)), 10)
	b = append(b, ">1 "...)
	b = ev.At.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, app...)
	b = append(b, ' ')
	b = append(b, pid...)
	b = append(b, ' ')
	b = append(b, headerField(ev.Kind, 32)...)
	b = append(b, " ["+sdID...)
	param := func(name, value string, limit int) {
		if value != "" {
			b = append(b, ' ')
			b = append(b, name...)
			b = append(b, `="`...)
			b = appendSDValue(b, value, limit)
			b = append(b, '"')
		}
	}
	param("id", ev.ID, maxValueBytes)
	param("device_id", ev.DeviceID, maxValueBytes)
	param("hostname", ev.Hostname, maxValueBytes)
	param("from", ev.From, maxValueBytes)
	param("to", ev.To, maxValueBytes)
	if ev.Kind == KindBandChange || ev.Score != 0 {
		param("score", strconv.FormatFloat(ev.Score, 'f', -1, 64), maxValueBytes)
	}
	var msg string
	if c := ev.Cluster; c != nil {
		param("cluster_id", c.ID, maxValueBytes)
		param("member_count", strconv.Itoa(len(c.Members)), maxValueBytes)
		param("members", strings.Join(c.Members, ","), maxMembersBytes)
		param("kinds", strings.Join(c.Kinds, ","), maxValueBytes)
		msg = fmt.Sprintf("new cluster %s: %d devices share a home (%s)", c.ID, len(c.Members), strings.Join(c.Kinds, ", "))
	} else {
		from := ev.From
		if from == "" {
			from = "unscored"
		}
		msg = fmt.Sprintf("device %s (%s) moved from band %s to %s, score %s", ev.DeviceID, ev.Hostname, from, ev.To, strconv.FormatFloat(ev.Score, 'f', -1, 64))
	}
	b = append(b, "] "...)
	msg = cleanText(msg, 2*maxValueBytes+maxMembersBytes)
	if !isASCII(msg) {
		b = append(b, "\xEF\xBB\xBF"...) // RFC 5424 §6.4: a UTF-8 MSG starts with a BOM
	}
	return append(b, msg...)
}

// headerField keeps the printable ASCII of s (RFC 5424 header fields allow nothing else),
// cut to limit bytes; "-" (the nil value) when nothing is left.
func headerField(s string, limit int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < limit; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// appendSDValue appends s as an SD-PARAM value: cleaned as by cleanText and with ", \ and ]
// escaped by a backslash (RFC 5424 §6.3.3), cut to limit bytes of input on a rune boundary.
func appendSDValue(b []byte, s string, limit int) []byte {
	for _, r := range cleanText(s, limit) {
		if r == '"' || r == '\\' || r == ']' {
			b = append(b, '\\')
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// cleanText makes hostile text harmless in a log line: invalid UTF-8, control characters (C0,
// DEL, C1), line and paragraph separators and bidirectional overrides each become U+FFFD. The
// result is cut to at most limit bytes, on a rune boundary.
func cleanText(s string, limit int) string {
	var b strings.Builder
	for _, r := range s { // an invalid byte arrives as utf8.RuneError, written as U+FFFD
		switch {
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0x2028, r == 0x2029,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
