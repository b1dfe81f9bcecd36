package export

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	HeaderEvent     = "X-Farmwatch-Event"
	HeaderDelivery  = "X-Farmwatch-Delivery"
	HeaderSignature = "X-Farmwatch-Signature"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns; receivers answer all of them with 4xx (400 or 401).
var (
	ErrNoSignature    = errors.New("no usable t= and v1= in signature header")
	ErrBadSignature   = errors.New("signature does not match")
	ErrStaleSignature = errors.New("signature timestamp outside tolerance")
)

// Sign returns the X-Farmwatch-Signature header value for body sent at t.
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks an X-Farmwatch-Signature header against the raw request body as a receiver
// must: one of its v1 values is the HMAC-SHA256 of "<t>.<body>" under secret (compared in
// constant time), and t is within tolerance of now (DefaultTolerance when tolerance <= 0), in
// either direction. A nil error means the body came from a holder of secret within the window;
// to refuse replays inside the window, also deduplicate on the event ID (see the package doc).
func Verify(secret string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	match := false
	for _, s := range sigs {
		match = hmac.Equal(s, want) || match // check all: no early exit on which one matched
	}
	if !match {
		return ErrBadSignature
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrStaleSignature, age.Round(time.Second), tolerance)
	}
	return nil
}

type webhookSink struct {
	url    string
	safe   string // scheme://host, for names and errors: paths often hold a token
	secret string
	client *http.Client
	retry  retryPolicy
	log    *slog.Logger
	now    func() time.Time
}

func newWebhookSink(w Webhook, retry retryPolicy, log *slog.Logger) (*webhookSink, string, error) {
	u, err := url.Parse(w.URL)
	if err != nil {
		return nil, "", fmt.Errorf("url: %w", redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("url scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, "", fmt.Errorf("url %s://…: no host", u.Scheme)
	}
	safe := u.Scheme + "://" + u.Host
	if w.Secret == "" {
		return nil, "", fmt.Errorf("%s: secret is required: receivers verify %s with it", safe, HeaderSignature)
	}
	timeout := w.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultWebhookTimeout
	case timeout < 0:
		return nil, "", fmt.Errorf("%s: timeout %s: must be positive", safe, timeout)
	}
	if u.Scheme == "http" {
		log.Warn("export: webhook over plain http: events are signed but readable on the network", "webhook", safe)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{
		Transport: tr,
		Timeout:   timeout,
		// A redirect would carry a signed event somewhere the operator did not configure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s := &webhookSink{url: w.URL, safe: safe, secret: w.Secret, client: client, retry: retry, log: log, now: time.Now}
	return s, "webhook:" + safe, nil
}

func (s *webhookSink) deliver(ctx context.Context, batch []Event) (int, error) {
	sent := 0
	var errs []error
	for _, ev := range batch {
		if err := s.post(ctx, ev); err != nil {
			errs = append(errs, fmt.Errorf("event %s: %w", ev.ID, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// post delivers one event, retrying network errors, 5xx and 429 up to the policy's attempts.
func (s *webhookSink) post(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	var last error
	for attempt := 1; ; attempt++ {
		wait, err := s.attempt(ctx, ev, body)
		if err == nil {
			return nil
		}
		last = err
		var perm *permanentError
		if errors.As(err, &perm) || ctx.Err() != nil {
			return err
		}
		if attempt >= s.retry.attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, last)
		}
		if wait <= 0 {
			wait = s.retry.delay(attempt)
		}
		s.log.Debug("export: webhook retry", "webhook", s.safe, "event", ev.ID, "attempt", attempt, "wait", wait, "err", err)
		if !sleep(ctx, wait) {
			return fmt.Errorf("abandoned after %d attempts: %w", attempt, last)
		}
	}
}

// permanentError is a refusal that retrying will not change (4xx other than 429).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attempt makes one POST. On a retryable failure it returns the receiver's Retry-After, if any.
func (s *webhookSink) attempt(ctx context.Context, ev Event, body []byte) (retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{redactURLError(err)} // not expected: the URL was validated
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "farmwatch-export/1")
	req.Header.Set(HeaderEvent, ev.Kind)
	req.Header.Set(HeaderDelivery, ev.ID)
	req.Header.Set(HeaderSignature, Sign(s.secret, body, s.now()))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, redactURLError(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c == http.StatusTooManyRequests || c >= 500:
		return s.retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %d", c)
	default:
		return 0, &permanentError{fmt.Errorf("refused with HTTP %d (not retried)", c)}
	}
}

// retryAfter parses Retry-After (seconds or an HTTP date), capped so that a receiver cannot
// park the queue indefinitely.
func (s *webhookSink) retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(s.now())
	}
	return min(max(d, 0), s.retry.maxRetryAfter)
}

func (s *webhookSink) close() error {
	s.client.CloseIdleConnections()
	return nil
}

// redactURLError drops the URL from a *url.Error: webhook URLs often embed a token.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
