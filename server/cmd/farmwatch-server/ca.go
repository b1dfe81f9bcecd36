package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/store"
)

// cmdCA runs `ca status|stage|promote|finish`: the collector CA's rotation (docs/security.md).
// Each step takes effect when the collector next starts.
func cmdCA(ctx context.Context, step string, args []string, stdout, stderr io.Writer) error {
	f := newFlags("ca "+step, stderr)
	active := f.Duration("active", 30*24*time.Hour, "status: count devices seen within this long")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	audit := func(action, detail string) {
		if st, err := f.openStore(ctx, nil, false); err == nil {
			_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: action, Target: "collector CA", Detail: detail})
			st.Close()
		}
	}
	switch step {
	case "status":
		ca, err := pki.Load(*f.data)
		if err != nil {
			return err
		}
		show := func(role string, c *x509.Certificate) {
			fmt.Fprintf(stdout, "%-9s %s  %s  valid until %s\n", role, pki.Fingerprint(c), c.Subject.String(), c.NotAfter.UTC().Format("2006-01-02"))
		}
		show("current", ca.Cert)
		if ca.Next != nil {
			show("next", ca.Next)
		}
		if ca.Previous != nil {
			show("previous", ca.Previous)
		}
		st, err := f.openStore(ctx, nil, false)
		if err != nil {
			return err
		}
		defer st.Close()
		since := time.Now().Add(-*active)
		switch {
		case ca.Next != nil:
			yes, no, err := st.PinningCounts(ctx, pki.Fingerprint(ca.Next), since)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rotation: next CA staged; %d of %d devices seen in the last %s pin it", yes, yes+no, *active)
			if no == 0 {
				fmt.Fprintln(stdout, "; ready to promote")
			} else {
				fmt.Fprintln(stdout, "; promote when all do (the others must be enrolled again after promotion)")
			}
		case ca.Previous != nil:
			fmt.Fprintln(stdout, "rotation: promoted; run `ca finish` once every device certificate from the previous CA has been renewed (one certificate lifetime, --cert-ttl, after promoting)")
		default:
			fmt.Fprintln(stdout, "rotation: none in progress")
		}
		return nil
	case "stage":
		c, err := pki.StageNext(*f.data, time.Now())
		if err != nil {
			return err
		}
		audit("ca.stage", pki.Fingerprint(c))
		fmt.Fprintf(stdout, "next CA staged: %s\nrestart the collector; agents pin it at their next heartbeat; then `ca status`\n", pki.Fingerprint(c))
		return nil
	case "promote":
		if err := pki.Promote(*f.data); err != nil {
			return err
		}
		ca, err := pki.Load(*f.data)
		if err != nil {
			return err
		}
		audit("ca.promote", pki.Fingerprint(ca.Cert))
		fmt.Fprintf(stdout, "CA %s now signs; the previous one stays trusted until `ca finish`\nrestart the collector\n", pki.Fingerprint(ca.Cert))
		return nil
	case "finish":
		if err := pki.Finish(*f.data); err != nil {
			return err
		}
		audit("ca.finish", "")
		fmt.Fprintln(stdout, "previous CA deleted; restart the collector (device certificates it issued are refused from then on)")
		return nil
	}
	return usageError{fmt.Errorf("ca %s: want status, stage, promote or finish", step)}
}
