package console

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

// OIDCConfig turns on single sign-on through an OpenID Connect provider (authorization code
// flow with PKCE). Local accounts keep working beside it.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL exactly as its discovery document and ID tokens
	// state it (https, or http on a loopback address for development).
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client
	// RedirectURL is this console's callback as registered at the provider; its path must be
	// /login/oidc/callback.
	RedirectURL string
	// Scopes requested besides "openid", which is always sent; nil means email and profile.
	Scopes []string
	// RoleClaim names the ID token claim (a string or a list of strings) whose values RoleMap
	// maps to console roles; default "groups".
	RoleClaim string
	// RoleMap maps claim values to viewer, analyst or admin. The most privileged match wins;
	// a user with no match is refused.
	RoleMap map[string]string
	// AllowedDomains, when set, admits only users whose email is in one of these domains.
	AllowedDomains []string
	// HTTPClient talks to the provider; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

const (
	oidcCookie       = "fw_oidc"
	oidcCookiePath   = "/login/oidc"
	oidcCallbackPath = "/login/oidc/callback"
	// oidcFlowTTL bounds how long a user may spend at the provider.
	oidcFlowTTL = 10 * time.Minute
	// oidcLeeway is the clock skew allowed on exp, iat and nbf.
	oidcLeeway = 2 * time.Minute
	// jwksMinRefetch rate-limits JWKS refetches prompted by an unknown key id, so tokens with
	// made-up key ids cannot make us hammer the provider.
	jwksMinRefetch = time.Minute
	// discoveryTTL is how long the discovery document and keys are trusted before a refetch.
	discoveryTTL = 24 * time.Hour
	// maxProviderResponse bounds discovery, JWKS and token responses.
	maxProviderResponse = 1 << 20
	// ssoPrefix starts the username of every single sign-on account. Local usernames cannot
	// contain ':', so an identity at the provider can never take over a local account, and the
	// prefix is what marks a user record as SSO.
	ssoPrefix = "sso:"
)

// ssoNamePattern is what may follow ssoPrefix: an email address or a subject identifier.
var ssoNamePattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,120}$`)

// isSSOUser says whether a username belongs to a single sign-on account.
func isSSOUser(username string) bool { return strings.HasPrefix(username, ssoPrefix) }

// oidcProvider is the console's view of one OpenID provider: its configuration, discovery
// document and signing keys, fetched lazily and cached.
type oidcProvider struct {
	cfg    OIDCConfig
	client *http.Client
	now    func() time.Time

	mu         sync.Mutex
	meta       *oidcMetadata
	metaAt     time.Time
	keys       []jwk
	keysAt     time.Time // last JWKS fetch attempt
	keysLoaded time.Time // last successful JWKS fetch
}

type oidcMetadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

func newOIDCProvider(cfg OIDCConfig, now func() time.Time) (*oidcProvider, error) {
	if err := providerURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("oidc issuer: %w", err)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: no client id")
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || ru.Path != oidcCallbackPath {
		return nil, fmt.Errorf("oidc redirect URL %q: must be an absolute http(s) URL with path %s", cfg.RedirectURL, oidcCallbackPath)
	}
	if len(cfg.RoleMap) == 0 {
		return nil, errors.New("oidc: empty role map: no one could sign in")
	}
	for v, role := range cfg.RoleMap {
		if !store.ValidRole(role) {
			return nil, fmt.Errorf("oidc role map: %q maps to %q, not viewer, analyst or admin", v, role)
		}
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "groups"
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"email", "profile"}
	}
	cfg.Scopes = slices.DeleteFunc(slices.Clone(cfg.Scopes), func(s string) bool { return s == "openid" })
	domains := make([]string, len(cfg.AllowedDomains))
	for i, d := range cfg.AllowedDomains {
		domains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
	}
	cfg.AllowedDomains = domains
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcProvider{cfg: cfg, client: client, now: now}, nil
}

// providerURL accepts https URLs, and http ones on loopback addresses (a provider run
// locally for development).
func providerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%q: the provider must be reached over https", s)
}

// getJSON fetches a provider document into v.
func (p *oidcProvider) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > maxProviderResponse {
		return fmt.Errorf("GET %s: response larger than 1 MiB", u)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// metadata returns the discovery document, fetching it when it is missing or old.
func (p *oidcProvider) metadata(ctx context.Context) (*oidcMetadata, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.meta != nil && p.now().Sub(p.metaAt) < discoveryTTL {
		return p.meta, nil
	}
	var m oidcMetadata
	u := strings.TrimSuffix(p.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := p.getJSON(ctx, u, &m); err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	if m.Issuer != p.cfg.Issuer {
		return nil, fmt.Errorf("oidc discovery: issuer %q does not match the configured %q", m.Issuer, p.cfg.Issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint, "jwks_uri": m.JWKSURI} {
		if err := providerURL(v); err != nil {
			return nil, fmt.Errorf("oidc discovery: %s: %w", name, err)
		}
	}
	if p.meta != nil && p.meta.JWKSURI != m.JWKSURI {
		p.keys, p.keysAt, p.keysLoaded = nil, time.Time{}, time.Time{}
	}
	p.meta, p.metaAt = &m, p.now()
	return p.meta, nil
}

// key finds the signing key for a token header, fetching the JWKS when it has none yet, when
// it is old, or (at most once a minute) when the key id is unknown: providers rotate keys.
func (p *oidcProvider) key(ctx context.Context, h jwtHeader) (*jwk, error) {
	m, err := p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	k := pickKey(p.keys, h)
	stale := p.keysLoaded.IsZero() || now.Sub(p.keysLoaded) > discoveryTTL
	if k == nil || stale {
		if !stale && now.Sub(p.keysAt) < jwksMinRefetch {
			return nil, fmt.Errorf("no key with id %q (JWKS refetched less than a minute ago)", h.Kid)
		}
		p.keysAt = now
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := p.getJSON(ctx, m.JWKSURI, &set); err != nil {
			if k != nil {
				return k, nil // keep using a known key while the provider is unreachable
			}
			return nil, fmt.Errorf("oidc jwks: %w", err)
		}
		p.keys, p.keysLoaded = parseJWKS(set.Keys), now
		if k = pickKey(p.keys, h); k == nil {
			return nil, fmt.Errorf("no usable key with id %q for %s", h.Kid, h.Alg)
		}
	}
	return k, nil
}

// authURL is where /login/oidc sends the browser.
func (p *oidcProvider) authURL(m *oidcMetadata, f oidcFlow) (string, error) {
	u, err := url.Parse(m.AuthorizationEndpoint)
	if err != nil {
		return "", err
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(f.Verifier))
	q.Set("response_type", "code")
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", p.cfg.RedirectURL)
	q.Set("scope", strings.Join(append([]string{"openid"}, p.cfg.Scopes...), " "))
	q.Set("state", f.State)
	q.Set("nonce", f.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// exchange redeems an authorization code at the token endpoint and returns the ID token.
func (p *oidcProvider) exchange(ctx context.Context, m *oidcMetadata, code, verifier string) (string, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {p.cfg.RedirectURL},
		"code_verifier": {verifier},
	}
	// client_secret_basic is the default every provider must support; use client_secret_post
	// only when the provider says it supports nothing else.
	post := p.cfg.ClientSecret != "" && len(m.TokenAuthMethods) > 0 &&
		!slices.Contains(m.TokenAuthMethods, "client_secret_basic") && slices.Contains(m.TokenAuthMethods, "client_secret_post")
	if p.cfg.ClientSecret == "" || post {
		form.Set("client_id", p.cfg.ClientID)
	}
	if post {
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if p.cfg.ClientSecret != "" && !post {
		// RFC 6749 §2.3.1: both are form-encoded before going into the Basic header.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse+1))
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	var tr struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if len(b) > maxProviderResponse {
		return "", errors.New("token endpoint: response larger than 1 MiB")
	}
	_ = json.Unmarshal(b, &tr) // a non-JSON answer is reported by status or missing token below
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: status %d, error %q", resp.StatusCode, truncate(tr.Error, 64))
	}
	if tr.IDToken == "" {
		return "", errors.New("token endpoint: no id_token in the response")
	}
	return tr.IDToken, nil
}

// verify checks an ID token's signature and claims for this client and flow.
func (p *oidcProvider) verify(ctx context.Context, raw, nonce string) (*idClaims, error) {
	return verifyIDToken(raw, func(h jwtHeader) (*jwk, error) { return p.key(ctx, h) }, idTokenCheck{
		Issuer: p.cfg.Issuer, ClientID: p.cfg.ClientID, Nonce: nonce, Now: p.now(),
	})
}

// oidcFlow is what the browser carries from /login/oidc to the callback, in the fw_oidc
// cookie: the state to match, the nonce the ID token must carry, and the PKCE verifier.
type oidcFlow struct {
	State, Nonce, Verifier string
	Started                time.Time
}

func newOIDCFlow(now time.Time) (oidcFlow, error) {
	f := oidcFlow{Started: now}
	for _, s := range []*string{&f.State, &f.Nonce, &f.Verifier} {
		var err error
		if *s, err = account.NewToken(); err != nil {
			return oidcFlow{}, err
		}
	}
	return f, nil
}

func (f oidcFlow) cookieValue() string {
	return f.State + "." + f.Nonce + "." + f.Verifier + "." + strconv.FormatInt(f.Started.Unix(), 10)
}

func parseOIDCFlow(v string) (oidcFlow, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return oidcFlow{}, false
	}
	for _, p := range parts[:3] {
		if len(p) != account.TokenLen {
			return oidcFlow{}, false
		}
	}
	sec, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return oidcFlow{}, false
	}
	return oidcFlow{State: parts[0], Nonce: parts[1], Verifier: parts[2], Started: time.Unix(sec, 0)}, true
}

// oidcCookieFor makes the flow cookie. It is SameSite=Lax, unlike our other cookies, because
// the provider's redirect back to the callback is a cross-site navigation; it is sent only
// to /login/oidc paths and lives only as long as a sign-in may take.
func (c *Console) oidcCookieFor(value string, maxAge time.Duration) *http.Cookie {
	ck := c.cookie(oidcCookie, value, maxAge)
	ck.Path = oidcCookiePath
	ck.SameSite = http.SameSiteLaxMode
	return ck
}

// oidcStart is GET /login/oidc: send the browser to the provider.
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && len(ck.Value) == account.TokenLen {
		if _, err := c.store.Session(r.Context(), account.HashToken(ck.Value), c.now()); err == nil {
			http.Redirect(w, r, landingPage, http.StatusSeeOther)
			return
		}
	}
	m, err := c.oidc.metadata(r.Context())
	if err != nil {
		c.log.Error("console sso: provider unavailable", "err", err, "ip", clientIP(r))
		c.ssoRefuse(w, r, http.StatusBadGateway, "Single sign-on unavailable",
			"The identity provider could not be reached. Try again in a moment, or sign in with a console password.")
		return
	}
	f, err := newOIDCFlow(c.now())
	if err != nil {
		c.log.Error("console sso: random", "err", err)
		c.ssoRefuse(w, r, http.StatusInternalServerError, "Single sign-on unavailable", msgUnavailable)
		return
	}
	to, err := c.oidc.authURL(m, f)
	if err != nil {
		c.log.Error("console sso: authorization endpoint", "err", err)
		c.ssoRefuse(w, r, http.StatusBadGateway, "Single sign-on unavailable", "The identity provider is misconfigured; the collector log has the reason.")
		return
	}
	http.SetCookie(w, c.oidcCookieFor(f.cookieValue(), oidcFlowTTL))
	http.Redirect(w, r, to, http.StatusFound)
}

// oidcCallback is GET /login/oidc/callback: the provider sends the browser back here with a
// code (or an error). Every failure ends on an error page with no session; the log gets the
// reason but never the code or a token.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	http.SetCookie(w, c.oidcCookieFor("", -1)) // one attempt per flow, whatever happens
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		c.log.Warn("console sso refused by provider", "error", truncate(e, 64), "description", truncate(q.Get("error_description"), 200), "ip", ip)
		msg := "The identity provider did not sign you in."
		if e == "access_denied" {
			msg = "The identity provider denied the sign-in, or it was cancelled."
		}
		c.ssoRefuse(w, r, http.StatusForbidden, "Sign-in refused", msg+" You can start again.")
		return
	}
	var f oidcFlow
	ok := false
	if ck, err := r.Cookie(oidcCookie); err == nil {
		f, ok = parseOIDCFlow(ck.Value)
	}
	age := c.now().Sub(f.Started)
	if !ok || age < -oidcLeeway || age > oidcFlowTTL {
		c.log.Warn("console sso rejected", "reason", "no live sign-in flow cookie", "ip", ip)
		c.ssoRefuse(w, r, http.StatusBadRequest, "Sign-in expired",
			"This sign-in took too long or was started in another browser. Start again.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		c.log.Warn("console sso rejected", "reason", "state mismatch", "ip", ip)
		c.ssoRefuse(w, r, http.StatusBadRequest, "Sign-in refused",
			"This sign-in response does not belong to the sign-in started in this browser. Start again.")
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		c.log.Warn("console sso rejected", "reason", "no usable code", "ip", ip)
		c.ssoRefuse(w, r, http.StatusBadRequest, "Sign-in refused", "The identity provider's answer had no authorization code. Start again.")
		return
	}
	ctx := r.Context()
	m, err := c.oidc.metadata(ctx)
	if err != nil {
		c.log.Error("console sso: provider unavailable", "err", err, "ip", ip)
		c.ssoRefuse(w, r, http.StatusBadGateway, "Single sign-on unavailable", "The identity provider could not be reached. Try again in a moment.")
		return
	}
	raw, err := c.oidc.exchange(ctx, m, code, f.Verifier)
	if err != nil {
		c.log.Warn("console sso rejected", "reason", "code exchange failed", "err", err, "ip", ip)
		c.ssoRefuse(w, r, http.StatusBadGateway, "Sign-in failed", "The identity provider did not confirm the sign-in. Start again.")
		return
	}
	claims, err := c.oidc.verify(ctx, raw, f.Nonce)
	if err != nil {
		c.log.Warn("console sso rejected", "reason", "ID token invalid", "err", err, "ip", ip)
		c.ssoRefuse(w, r, http.StatusUnauthorized, "Sign-in refused", "The identity provider's answer could not be verified, so you were not signed in.")
		return
	}
	user, heading, msg, err := c.oidcProvision(ctx, claims)
	if err != nil {
		c.log.Error("console sso: account", "sub", truncate(claims.Subject, 128), "err", err, "ip", ip)
		c.ssoRefuse(w, r, http.StatusInternalServerError, "Sign-in failed", msgUnavailable)
		return
	}
	if msg != "" {
		c.ssoRefuse(w, r, http.StatusForbidden, heading, msg)
		return
	}
	if err := c.startSession(w, r, user.Username, "oidc"); err != nil {
		c.log.Error("console sso: start session", "username", user.Username, "ip", ip, "err", err)
		c.ssoRefuse(w, r, http.StatusInternalServerError, "Sign-in failed", msgUnavailable)
		return
	}
	c.log.Info("console login", "username", user.Username, "via", "oidc", "role", user.Role, "ip", ip)
	// The session cookie is SameSite=Strict, and this request came from the provider's site: a
	// redirect would carry that cross-site origin along and the browser would withhold the
	// cookie. A page that moves on by itself starts a fresh, same-site navigation.
	c.render(w, r, http.StatusOK, "ssodone", page{Title: "Signed in", Refresh: landingPage, Body: user.Username})
}

// ssoRefuse shows why single sign-on did not sign the user in.
func (c *Console) ssoRefuse(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	c.renderError(w, r, status, heading, message, store.Session{})
}

// oidcProvision finds or creates the SSO account for verified claims. A refusal comes back as
// a heading and message for the user (and is logged here); err is for failures of the store.
func (c *Console) oidcProvision(ctx context.Context, cl *idClaims) (u store.User, heading, msg string, err error) {
	cfg := c.oidc.cfg
	refuse := func(reason, heading, msg string, args ...any) (store.User, string, string, error) {
		c.log.Warn("console sso refused", append([]any{"reason", reason, "sub", truncate(cl.Subject, 128)}, args...)...)
		return store.User{}, heading, msg, nil
	}
	email := ""
	if cl.Email != "" && cl.EmailVerified != verifiedFalse {
		email = strings.ToLower(cl.Email)
	}
	if len(cfg.AllowedDomains) > 0 {
		at := strings.LastIndexByte(email, '@')
		if at < 0 || !slices.Contains(cfg.AllowedDomains, email[at+1:]) {
			return refuse("email domain not allowed", "Account not allowed",
				"Your account's email domain is not allowed to use this console.", "email", truncate(cl.Email, 128))
		}
	}
	name := cmp.Or(email, cl.Subject)
	if !ssoNamePattern.MatchString(name) {
		return refuse("unusable account name", "Account not usable",
			"Your account at the identity provider has no email address or identifier this console can use as a username.")
	}
	username := ssoPrefix + name
	role := ""
	for _, v := range cl.Roles(cfg.RoleClaim) {
		if r, ok := cfg.RoleMap[v]; ok && roleRank(r) > roleRank(role) {
			role = r
		}
	}
	if role == "" {
		return refuse("no mapped role", "No access to this console",
			"You signed in at the identity provider, but none of your groups grants access to this console. Ask an administrator to add you to a console group.",
			"username", username, "claim", cfg.RoleClaim)
	}

	u, err = c.store.User(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		u, err = c.createSSOUser(ctx, username, role)
	}
	if err != nil {
		return store.User{}, "", "", err
	}
	if u.Disabled {
		return refuse("account disabled", "Account disabled", "Your console account is disabled. Ask an administrator.", "username", username)
	}
	if u.Role != role {
		// The provider's groups are the source of truth: a promotion or a demotion there takes
		// effect at the user's next sign-in through it.
		if err := c.store.SetUserRole(ctx, username, role); err != nil {
			return store.User{}, "", "", fmt.Errorf("set role of %s: %w", username, err)
		}
		if err := c.audit(ctx, "oidc", "user.sso_role", username, u.Role+"->"+role); err != nil {
			c.log.Error("console sso: audit role change", "username", username, "err", err)
		}
		c.log.Info("console sso role changed", "username", username, "from", u.Role, "to", role)
		u.Role = role
	}
	return u, "", "", nil
}

// createSSOUser records a first sign-in. The password hash is of 32 random bytes that are
// thrown away: the account can be used only through the provider.
func (c *Console) createSSOUser(ctx context.Context, username, role string) (store.User, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return store.User{}, err
	}
	hash, err := account.Hash(base64.RawURLEncoding.EncodeToString(raw))
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Username: username, PasswordHash: hash, Role: role, CreatedAt: c.now()}
	err = c.store.CreateUser(ctx, u)
	if errors.Is(err, store.ErrExists) {
		return c.store.User(ctx, username) // a concurrent first sign-in won
	}
	if err != nil {
		return store.User{}, fmt.Errorf("create SSO user %s: %w", username, err)
	}
	if err := c.audit(ctx, "oidc", "user.sso_create", username, role); err != nil {
		c.log.Error("console sso: audit new user", "username", username, "err", err)
	}
	c.log.Info("console sso user created", "username", username, "role", role)
	return u, nil
}

// truncate keeps log fields from the provider or the browser bounded.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
