package overlay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"time"
)

// reply is one bounded HTTP answer.
type reply struct {
	status    int
	body      []byte
	truncated bool // the body was longer than the cap and was cut
}

// getter sends bounded GET requests and nothing else.
type getter struct {
	client  *http.Client
	timeout time.Duration
	max     int64
}

// getOnly refuses every request that is not a GET, so that no code path
// can ever change a tool's state through its API.
type getOnly struct{ next http.RoundTripper }

func (g getOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("overlay: refusing %s %s: only GET is allowed", r.Method, r.URL.Redacted())
	}
	return g.next.RoundTrip(r)
}

// newGetter builds a getter whose connections come from dial. No proxy, no
// keep-alive, no redirects (a redirect could leave loopback), no
// compression, small headers.
func newGetter(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration, max int64) *getter {
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		ResponseHeaderTimeout:  timeout,
		TLSHandshakeTimeout:    timeout,
	}
	return &getter{
		client: &http.Client{
			Transport:     getOnly{t},
			Timeout:       timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: timeout,
		max:     max,
	}
}

// newLoopbackGetter dials TCP and refuses any address that is not loopback.
func newLoopbackGetter(timeout time.Duration, max int64) *getter {
	d := &net.Dialer{Timeout: timeout, Control: loopbackOnly}
	return newGetter(d.DialContext, timeout, max)
}

// loopbackOnly is a net.Dialer Control that refuses non-loopback peers.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("overlay: dial %s: %w", address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("overlay: refusing to dial non-loopback %s %s", network, address)
	}
	return nil
}

// get fetches url with the given headers, reading at most g.max bytes of
// the body within g.timeout.
func (g *getter) get(ctx context.Context, url string, header map[string]string) (reply, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, g.max+1))
	if int64(len(r.body)) > g.max {
		r.body, r.truncated = r.body[:g.max], true
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("read body of %s: %w", url, err)
	}
	return r, nil
}

// absent reports errors that mean "nothing there": no socket or pipe, or a
// refused connection.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || refused(err)
}

// permissionDenied reports a socket or pipe we may not open.
func permissionDenied(err error) bool {
	return errors.Is(err, fs.ErrPermission)
}
