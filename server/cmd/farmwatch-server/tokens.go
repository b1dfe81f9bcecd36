package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// newAPIToken makes a token value and the hash the store keeps (SHA-256 of the value, as the
// API looks it up).
func newAPIToken() (value string, hash []byte, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	value = "fwt_" + base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(value))
	return value, h[:], nil
}

func cmdTokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("token create", stderr)
	name := f.String("name", "", "a name to recognise the token by (default: generated)")
	role := f.String("role", store.RoleViewer, "viewer (read), analyst (also triage and notes) or admin (also policy and audit)")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	if !store.ValidRole(*role) {
		return usageError{fmt.Errorf("--role %q: want viewer, analyst or admin", *role)}
	}
	if len(*name) > 64 {
		return usageError{errors.New("--name longer than 64 characters")}
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := randomID("tok_", 8)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = id
	}
	value, hash, err := newAPIToken()
	if err != nil {
		return err
	}
	now := time.Now()
	if err := st.CreateAPIToken(ctx, store.APIToken{ID: id, Name: *name, Hash: hash, Role: *role, CreatedAt: now, CreatedBy: "cli"}); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: now, Actor: "cli", Action: "token.create", Target: id, Detail: *name + " (" + *role + ")"})
	fmt.Fprintf(stdout, "created API token %s (%s, role %s); it is shown once. Use it as: Authorization: Bearer <token>\n%s\n", id, *name, *role, value)
	return nil
}

func cmdTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("token list", stderr)
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.APITokens(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		Role      string    `json:"role"`
		CreatedAt time.Time `json:"created_at"`
		LastUsed  time.Time `json:"last_used"`
		Revoked   bool      `json:"revoked"`
	}
	rows := []row{}
	for _, t := range ts {
		rows = append(rows, row{t.ID, t.Name, t.Role, t.CreatedAt, t.LastUsed, !t.RevokedAt.IsZero()})
	}
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED")
	for _, r := range rows {
		used := "never"
		if !r.LastUsed.IsZero() {
			used = r.LastUsed.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", r.ID, r.Name, r.Role, r.CreatedAt.Local().Format(time.DateTime), used, r.Revoked)
	}
	return tw.Flush()
}

func cmdTokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("token revoke", stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeAPIToken(ctx, pos[0], time.Now()); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "token.revoke", Target: pos[0]})
	fmt.Fprintf(stdout, "revoked API token %s\n", pos[0])
	return nil
}
