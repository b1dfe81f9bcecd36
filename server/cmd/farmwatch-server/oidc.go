package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/farmwatch/farmwatch/server/console"
)

// oidcFlags are serve's single sign-on settings.
type oidcFlags struct {
	issuer, clientID, secretFile, redirect, roleClaim, roleMap string
	domains                                                    multiFlag
}

// config returns the console's OIDC configuration; nil when no issuer is given.
func (o *oidcFlags) config() (*console.OIDCConfig, error) {
	if o.issuer == "" {
		return nil, nil
	}
	c := &console.OIDCConfig{Issuer: o.issuer, ClientID: o.clientID, RedirectURL: o.redirect, RoleClaim: o.roleClaim, AllowedDomains: o.domains, RoleMap: map[string]string{}}
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	}
	for _, pair := range strings.Split(o.roleMap, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("--oidc-role-map %q: want CLAIM_VALUE=ROLE[,CLAIM_VALUE=ROLE...]", o.roleMap)}
		}
		c.RoleMap[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return c, nil
}
