package console

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

const testClientID = "farmwatch-console"

// testKeys are generated once: RSA key generation is slow.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return rk, ek
})

// testIdP is a real, minimal OpenID provider: discovery, JWKS (one RSA and one EC key),
// /authorize that redirects straight back with a code, and /token that checks the client,
// the code and the PKCE verifier and returns an ID token signed by its key. Tests turn its
// knobs to make it misbehave.
type testIdP struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey

	mu              sync.Mutex
	codes           map[string]idpGrant
	groups          any    // the groups claim
	email           string // "" leaves the claim out
	discoveryIssuer string // "" means the real one
	rsaKid          string // the RSA key's id in the JWKS and in tokens
	header          map[string]any
	mutate          func(claims map[string]any)
	sign            func(alg, input string) []byte // nil signs properly
	authError       string                         // /authorize answers with this error
	state           string                         // /authorize returns this state instead
	consent         bool                           // /authorize shows a page the user must click through
	jwksFetches     int
	issued          []string // codes and tokens handed out, which must never be logged
}

type idpGrant struct{ nonce, challenge, redirect string }

func newTestIdP(t *testing.T, clk *clock) *testIdP {
	rk, ek := testKeys()
	p := &testIdP{t: t, clock: clk, rsa: rk, ec: ek, codes: map[string]idpGrant{},
		groups: []string{"fw-analysts"}, email: "Alice@Example.com", rsaKid: "rsa1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testIdP) discovery(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	iss := p.discoveryIssuer
	p.mu.Unlock()
	if iss == "" {
		iss = p.srv.URL
	}
	writeJSON(w, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                p.srv.URL + "/authorize",
		"token_endpoint":                        p.srv.URL + "/token",
		"jwks_uri":                              p.srv.URL + "/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (p *testIdP) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.jwksFetches++
	kid := p.rsaKid
	p.mu.Unlock()
	ecb, err := p.ec.PublicKey.Bytes()
	if err != nil {
		p.t.Error(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	writeJSON(w, map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": enc(p.rsa.N.Bytes()), "e": enc(big.NewInt(int64(p.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec1", "use": "sig", "crv": "P-256", "x": enc(ecb[1:33]), "y": enc(ecb[33:])},
		{"kty": "oct", "kid": "hmac", "k": enc([]byte("not for us"))},
	}})
}

func (p *testIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != testClientID || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
		p.t.Errorf("bad authorization request: %s", r.URL.RawQuery)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v := url.Values{"state": {q.Get("state")}}
	if p.state != "" {
		v.Set("state", p.state)
	}
	if p.authError != "" {
		v.Set("error", p.authError)
		v.Set("error_description", "the user said no")
	} else {
		code, _ := account.NewToken()
		p.codes[code] = idpGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		p.issued = append(p.issued, code)
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	if p.consent {
		// As at a real provider, the way back starts from the provider's own page.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>Consent</title><a id="consent" href="%s">Continue to Farmwatch</a>`, html.EscapeString(back.String()))
		return
	}
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *testIdP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != testClientID || secret != "s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code")) // single use
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	tok := p.idToken(g.nonce)
	writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": tok})
}

// idToken mints an ID token for the current knobs.
func (p *testIdP) idToken(nonce string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	claims := map[string]any{
		"iss": p.srv.URL, "sub": "u-123", "aud": testClientID, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "groups": p.groups,
	}
	if p.email != "" {
		claims["email"], claims["email_verified"] = p.email, true
	}
	header := map[string]any{"alg": "RS256", "kid": p.rsaKid, "typ": "JWT"}
	for k, v := range p.header {
		header[k] = v
	}
	if p.mutate != nil {
		p.mutate(claims)
	}
	tok := mintToken(p.t, header, claims, p.rsa, p.ec, p.sign)
	p.issued = append(p.issued, tok)
	return tok
}

// mintToken signs a JWT the way the header says; sign, when set, replaces the signature.
func mintToken(t testing.TB, header, claims map[string]any, rk *rsa.PrivateKey, ek *ecdsa.PrivateKey, sign func(alg, input string) []byte) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(hb) + "." + enc(cb)
	alg, _ := header["alg"].(string)
	var sig []byte
	digest := sha256.Sum256([]byte(input))
	switch {
	case sign != nil:
		sig = sign(alg, input)
	case alg == "RS256":
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	case alg == "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, ek, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	return input + "." + enc(sig)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// oidcHarness is a console with single sign-on against a testIdP.
func newOIDCHarness(t *testing.T) (*harness, *testIdP) {
	h := newHarness(t, false)
	p := newTestIdP(t, h.clock)
	h.reconfigure(Options{
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OIDC: &OIDCConfig{
			Issuer: p.srv.URL, ClientID: testClientID, ClientSecret: "s3cret",
			RedirectURL: h.srv.URL + oidcCallbackPath,
			RoleMap:     map[string]string{"fw-viewers": store.RoleViewer, "fw-analysts": store.RoleAnalyst, "fw-admins": store.RoleAdmin},
			HTTPClient:  p.srv.Client(),
		},
	})
	return h, p
}

// ssoClient is a browser stand-in that trusts the provider's certificate and follows
// redirects, except that it stops at the console's callback so tests can see it.
func (h *harness) ssoClient(p *testIdP) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &http.Client{
		Jar:       jar,
		Transport: p.srv.Client().Transport,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == oidcCallbackPath {
				return http.ErrUseLastResponse
			}
			return nil
		},
		Timeout: 30 * time.Second,
	}
}

// ssoSignIn runs the flow from the "Sign in with SSO" link to the callback's answer.
func (h *harness) ssoSignIn(c *http.Client) response {
	h.t.Helper()
	r := h.get(c, "/login/oidc")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), h.srv.URL+oidcCallbackPath+"?") {
		h.t.Fatalf("GET /login/oidc ended with %d at %q, want a redirect to the callback:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	req, err := http.NewRequest(http.MethodGet, r.Header.Get("Location"), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(c, req)
}

// assertSignedOut checks that c has no session.
func (h *harness) assertSignedOut(c *http.Client) {
	h.t.Helper()
	if ck := h.cookie(c, sessionCookie); ck != nil {
		h.t.Errorf("session cookie set: %v", ck)
	}
	nc := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r := h.get(nc, "/overview"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		h.t.Errorf("GET /overview = %d to %q, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestSSOSignInCreatesUserAndSession(t *testing.T) {
	h, p := newOIDCHarness(t)
	c := h.ssoClient(p)

	login := h.get(c, "/login")
	if !strings.Contains(login.Body, `href="/login/oidc"`) || !strings.Contains(login.Body, "Sign in with SSO") {
		t.Fatalf("login page has no SSO link:\n%s", login.Body)
	}
	r := h.ssoSignIn(c)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `<meta http-equiv="refresh" content="0;url=/overview">`) ||
		!strings.Contains(r.Body, "sso:alice@example.com") {
		t.Fatalf("callback = %d, want the signed-in page:\n%s", r.StatusCode, r.Body)
	}
	if ck := h.cookie(c, oidcCookie); ck != nil {
		t.Errorf("flow cookie left behind: %v", ck)
	}
	page := h.get(c, "/overview")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<span class="role">analyst</span>`) {
		t.Fatalf("overview after SSO = %d:\n%s", page.StatusCode, page.Body)
	}
	u, err := h.store.User(context.Background(), "sso:alice@example.com")
	if err != nil || u.Role != store.RoleAnalyst || u.Disabled {
		t.Fatalf("user = %+v, %v", u, err)
	}
	if pp, err := account.ParseHash(u.PasswordHash); err != nil || len(pp.Key) == 0 {
		t.Errorf("SSO user's password hash is not an argon2id hash: %v", err)
	}
	// The account has no usable password: the form refuses it like any wrong password.
	if r := h.login(h.client(), "sso:alice@example.com", ""); r.StatusCode == http.StatusSeeOther {
		t.Error("password sign-in to an SSO account succeeded")
	}
	log := h.auditLog()
	var created, login1 bool
	for _, a := range log {
		created = created || (a.Action == "user.sso_create" && a.Target == "sso:alice@example.com" && a.Detail == "analyst")
		login1 = login1 || (a.Action == "console.login" && a.Target == "sso:alice@example.com" && strings.HasSuffix(a.Detail, " via=oidc"))
	}
	if !created || !login1 {
		t.Errorf("audit log lacks the SSO user creation or login: %+v", log)
	}
	p.mu.Lock()
	for _, s := range p.issued {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("log contains a code or token the provider issued")
		}
	}
	p.mu.Unlock()
}

func TestSSORoleMapping(t *testing.T) {
	h, p := newOIDCHarness(t)
	for _, tt := range []struct {
		name   string
		groups any
		want   string
	}{
		{"most privileged group wins", []string{"fw-viewers", "unrelated", "fw-admins"}, store.RoleAdmin},
		{"demotion at the provider takes effect", []string{"fw-viewers"}, store.RoleViewer},
		{"single string claim", "fw-analysts", store.RoleAnalyst},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.mu.Lock()
			p.groups = tt.groups
			p.mu.Unlock()
			c := h.ssoClient(p)
			if r := h.ssoSignIn(c); r.StatusCode != http.StatusOK {
				t.Fatalf("callback = %d:\n%s", r.StatusCode, r.Body)
			}
			if u, err := h.store.User(context.Background(), "sso:alice@example.com"); err != nil || u.Role != tt.want {
				t.Errorf("role = %q (%v), want %q", u.Role, err, tt.want)
			}
			if r := h.get(c, "/overview"); !strings.Contains(r.Body, `<span class="role">`+tt.want+`</span>`) {
				t.Errorf("session does not have role %s", tt.want)
			}
		})
	}
}

func TestSSOAllowedDomainsAndSubjectFallback(t *testing.T) {
	h, p := newOIDCHarness(t)
	cfg := func(domains []string) {
		h.reconfigure(Options{OIDC: &OIDCConfig{
			Issuer: p.srv.URL, ClientID: testClientID, ClientSecret: "s3cret", RedirectURL: h.srv.URL + oidcCallbackPath,
			RoleMap: map[string]string{"fw-analysts": store.RoleAnalyst}, AllowedDomains: domains, HTTPClient: p.srv.Client(),
		}})
	}
	cfg([]string{"corp.example"})
	c := h.ssoClient(p)
	if r := h.ssoSignIn(c); r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "email domain is not allowed") {
		t.Errorf("foreign domain = %d:\n%s", r.StatusCode, r.Body)
	}
	h.assertSignedOut(c)

	cfg([]string{"@EXAMPLE.com"})
	if r := h.ssoSignIn(h.ssoClient(p)); r.StatusCode != http.StatusOK {
		t.Errorf("allowed domain = %d:\n%s", r.StatusCode, r.Body)
	}

	// Without an email the subject names the account.
	cfg(nil)
	p.mu.Lock()
	p.email = ""
	p.mu.Unlock()
	if r := h.ssoSignIn(h.ssoClient(p)); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "sso:u-123") {
		t.Errorf("subject fallback = %d:\n%s", r.StatusCode, r.Body)
	}
}

func TestSSORefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		setup  func(p *testIdP)
		status int
		text   string
		log    string
	}{
		{"provider error", func(p *testIdP) { p.authError = "access_denied" }, http.StatusForbidden,
			"denied the sign-in", "console sso refused by provider"},
		{"state mismatch", func(p *testIdP) { p.state = strings.Repeat("A", account.TokenLen) }, http.StatusBadRequest,
			"does not belong to the sign-in started in this browser", "state mismatch"},
		{"wrong issuer", func(p *testIdP) { p.mutate = func(c map[string]any) { c["iss"] = "https://evil.example" } }, http.StatusUnauthorized,
			"could not be verified", `issuer \"https://evil.example\"`},
		{"wrong audience", func(p *testIdP) { p.mutate = func(c map[string]any) { c["aud"] = "someone-else" } }, http.StatusUnauthorized,
			"could not be verified", `audience \"someone-else\"`},
		{"several audiences without azp", func(p *testIdP) {
			p.mutate = func(c map[string]any) { c["aud"] = []string{testClientID, "other"} }
		}, http.StatusUnauthorized, "could not be verified", "authorized party"},
		{"expired", func(p *testIdP) {
			p.mutate = func(c map[string]any) { c["exp"] = p.clock.Now().Add(-3 * time.Minute).Unix() }
		}, http.StatusUnauthorized, "could not be verified", "expired at"},
		{"issued in the future", func(p *testIdP) {
			p.mutate = func(c map[string]any) { c["iat"] = p.clock.Now().Add(10 * time.Minute).Unix() }
		}, http.StatusUnauthorized, "could not be verified", "issued in the future"},
		{"bad signature", func(p *testIdP) {
			p.sign = func(alg, input string) []byte {
				d := sha256.Sum256([]byte(input + "x"))
				sig, _ := rsa.SignPKCS1v15(rand.Reader, p.rsa, crypto.SHA256, d[:])
				return sig
			}
		}, http.StatusUnauthorized, "could not be verified", "bad RS256 signature"},
		{"alg none", func(p *testIdP) {
			p.header = map[string]any{"alg": "none"}
			p.sign = func(string, string) []byte { return nil }
		}, http.StatusUnauthorized, "could not be verified", `algorithm \"none\" not accepted`},
		{"HS256 keyed with the public key", func(p *testIdP) {
			p.header = map[string]any{"alg": "HS256"}
			der, _ := x509.MarshalPKIXPublicKey(&p.rsa.PublicKey)
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			p.sign = func(_, input string) []byte {
				m := hmac.New(sha256.New, secret)
				m.Write([]byte(input))
				return m.Sum(nil)
			}
		}, http.StatusUnauthorized, "could not be verified", `algorithm \"HS256\" not accepted`},
		{"ES256 token under the RSA key id", func(p *testIdP) { p.header = map[string]any{"alg": "ES256"} }, http.StatusUnauthorized,
			"could not be verified", "no usable key"},
		{"nonce mismatch", func(p *testIdP) { p.mutate = func(c map[string]any) { c["nonce"] = "replayed" } }, http.StatusUnauthorized,
			"could not be verified", "nonce does not match"},
		{"unmapped group", func(p *testIdP) { p.groups = []string{"marketing"} }, http.StatusForbidden,
			"none of your groups grants access", "no mapped role"},
		{"no groups claim", func(p *testIdP) { p.groups = nil }, http.StatusForbidden,
			"none of your groups grants access", "no mapped role"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, p := newOIDCHarness(t)
			p.mu.Lock()
			tt.setup(p)
			p.mu.Unlock()
			c := h.ssoClient(p)
			r := h.ssoSignIn(c)
			if r.StatusCode != tt.status || !strings.Contains(r.Body, tt.text) {
				t.Errorf("callback = %d, want %d with %q:\n%s", r.StatusCode, tt.status, tt.text, r.Body)
			}
			if !strings.Contains(h.logs.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, h.logs.String())
			}
			h.assertSignedOut(c)
			if users, _ := h.store.Users(context.Background()); len(users) != 0 {
				t.Errorf("refused sign-in created users: %+v", users)
			}
			p.mu.Lock()
			for _, s := range p.issued {
				if strings.Contains(h.logs.String(), s) {
					t.Error("log contains a code or token the provider issued")
				}
			}
			p.mu.Unlock()
		})
	}
}

func TestSSOFlowCookieRequired(t *testing.T) {
	h, p := newOIDCHarness(t)
	c := h.ssoClient(p)
	r := h.get(c, "/login/oidc")
	loc := r.Header.Get("Location")
	// The callback reached from another browser (no flow cookie) is refused.
	req, _ := http.NewRequest(http.MethodGet, loc, nil)
	other := h.ssoClient(p)
	if r := h.do(other, req); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "Start again") {
		t.Errorf("callback without flow cookie = %d:\n%s", r.StatusCode, r.Body)
	}
	h.assertSignedOut(other)
	// The flow cookie is Lax (the provider's redirect is cross-site), HttpOnly and scoped.
	start, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/login/oidc", nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var flow *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == oidcCookie {
			flow = ck
		}
	}
	if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != oidcCookiePath || flow.MaxAge != int(oidcFlowTTL/time.Second) {
		t.Errorf("flow cookie = %+v", flow)
	}
	// A flow older than its lifetime is refused even if the browser kept the cookie.
	h.clock.Advance(oidcFlowTTL + time.Minute)
	if r := h.do(c, req); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "took too long") {
		t.Errorf("stale flow = %d:\n%s", r.StatusCode, r.Body)
	}
}

func TestSSODiscoveryIssuerMismatch(t *testing.T) {
	h, p := newOIDCHarness(t)
	p.discoveryIssuer = "https://evil.example"
	c := h.ssoClient(p)
	r := h.get(c, "/login/oidc")
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.Body, "could not be reached") {
		t.Errorf("GET /login/oidc = %d:\n%s", r.StatusCode, r.Body)
	}
	if !strings.Contains(h.logs.String(), "does not match the configured") {
		t.Errorf("log lacks the issuer mismatch:\n%s", h.logs.String())
	}
}

func TestSSOKeyRotationRefetchIsRateLimited(t *testing.T) {
	h, p := newOIDCHarness(t)
	if r := h.ssoSignIn(h.ssoClient(p)); r.StatusCode != http.StatusOK {
		t.Fatalf("first sign-in = %d", r.StatusCode)
	}
	// The provider rotates its key id: an unknown kid makes the console refetch the JWKS...
	h.clock.Advance(2 * jwksMinRefetch)
	p.mu.Lock()
	p.rsaKid = "rsa2"
	p.mu.Unlock()
	if r := h.ssoSignIn(h.ssoClient(p)); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in after rotation = %d:\n%s", r.StatusCode, r.Body)
	}
	// ...but tokens naming made-up key ids do not make it refetch again within a minute.
	p.mu.Lock()
	before := p.jwksFetches
	p.header = map[string]any{"kid": "made-up"}
	p.mu.Unlock()
	for range 3 {
		if r := h.ssoSignIn(h.ssoClient(p)); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unknown kid = %d", r.StatusCode)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwksFetches != before {
		t.Errorf("JWKS fetched %d more times within a minute, want 0", p.jwksFetches-before)
	}
}

func TestSSONotConfigured(t *testing.T) {
	h := newHarness(t, false)
	if r := h.get(h.client(), "/login"); strings.Contains(r.Body, "/login/oidc") {
		t.Error("login page offers SSO without configuration")
	}
	if r := h.get(h.client(), "/login/oidc"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("GET /login/oidc without SSO = %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestOIDCConfigRefused(t *testing.T) {
	st := newHarness(t, false).store
	good := func() OIDCConfig {
		return OIDCConfig{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://fw.example/login/oidc/callback",
			RoleMap: map[string]string{"g": store.RoleViewer}}
	}
	for _, tt := range []struct {
		name string
		edit func(*OIDCConfig)
	}{
		{"plain http issuer", func(c *OIDCConfig) { c.Issuer = "http://idp.example" }},
		{"no client id", func(c *OIDCConfig) { c.ClientID = "" }},
		{"wrong callback path", func(c *OIDCConfig) { c.RedirectURL = "https://fw.example/callback" }},
		{"empty role map", func(c *OIDCConfig) { c.RoleMap = nil }},
		{"unknown role", func(c *OIDCConfig) { c.RoleMap = map[string]string{"g": "root"} }},
	} {
		cfg := good()
		tt.edit(&cfg)
		if _, err := New(Options{Store: st, OIDC: &cfg}); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	cfg := good()
	cfg.Issuer = "http://127.0.0.1:5556"
	if _, err := New(Options{Store: st, OIDC: &cfg}); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}

// TestVerifyIDTokenClaims pins the claim checks at their edges, without the HTTP flow.
func TestVerifyIDTokenClaims(t *testing.T) {
	rk, ek := testKeys()
	keys := testJWKS(rk, ek)
	now := t0
	base := func() map[string]any {
		return map[string]any{"iss": "https://idp.example", "sub": "s", "aud": "c", "nonce": "n", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	for _, tt := range []struct {
		name string
		edit func(map[string]any)
		ok   bool
	}{
		{"valid", func(map[string]any) {}, true},
		{"expired within leeway", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }, true},
		{"expired beyond leeway", func(c map[string]any) { c["exp"] = now.Add(-oidcLeeway - time.Second).Unix() }, false},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }, true},
		{"nbf beyond leeway", func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() }, false},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, false},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, false},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, false},
		{"aud list with azp", func(c map[string]any) { c["aud"], c["azp"] = []string{"x", "c"}, "c" }, true},
		{"azp of another client", func(c map[string]any) { c["azp"] = "x" }, false},
		{"issuer with trailing slash", func(c map[string]any) { c["iss"] = "https://idp.example/" }, false},
		{"exp not a number", func(c map[string]any) { c["exp"] = "tomorrow" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			for _, alg := range []string{"RS256", "ES256"} {
				tok := mintToken(t, map[string]any{"alg": alg}, c, rk, ek, nil)
				_, err := verifyIDToken(tok, func(h jwtHeader) (*jwk, error) { return pickKey(keys, h), nil },
					idTokenCheck{Issuer: "https://idp.example", ClientID: "c", Nonce: "n", Now: now})
				if (err == nil) != tt.ok {
					t.Errorf("%s: err = %v, want ok=%v", alg, err, tt.ok)
				}
			}
		})
	}
}

func testJWKS(rk *rsa.PrivateKey, ek *ecdsa.PrivateKey) []jwk {
	return []jwk{{Kid: "r", Alg: "RS256", RSA: &rk.PublicKey}, {Kid: "e", Alg: "ES256", EC: &ek.PublicKey}}
}

func FuzzVerifyIDToken(f *testing.F) {
	rk, ek := testKeys()
	keys := testJWKS(rk, ek)
	claims := map[string]any{"iss": "https://idp.example", "sub": "s", "aud": "c", "nonce": "n", "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "groups": []string{"g"}}
	f.Add(mintToken(f, map[string]any{"alg": "RS256", "kid": "r"}, claims, rk, ek, nil))
	f.Add(mintToken(f, map[string]any{"alg": "ES256"}, claims, rk, ek, nil))
	f.Add(mintToken(f, map[string]any{"alg": "none"}, claims, rk, ek, func(string, string) []byte { return nil }))
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.")
	f.Add("...")
	f.Add("")
	want := idTokenCheck{Issuer: "https://idp.example", ClientID: "c", Nonce: "n", Now: t0}
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := verifyIDToken(raw, func(h jwtHeader) (*jwk, error) { return pickKey(keys, h), nil }, want)
		if err != nil {
			return
		}
		// Accepted: only possible with our keys' signature, and then every claim must hold.
		if cl.Issuer != want.Issuer || cl.Nonce != want.Nonce || !strings.Contains(strings.Join(cl.Audience, "\x00"), "c") || cl.Subject == "" {
			t.Fatalf("accepted token with claims %+v", cl)
		}
		_ = cl.Roles("groups")
	})
}
