package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// PolicyFile is the policy a collector picks up from its data directory when --policy is not given.
const PolicyFile = "policy.yaml"

// loadPolicy reads the policy for serve: --policy FILE, else DATA/policy.yaml when present,
// else the built-in default (path ""). A bad file stops serve with its problems: a collector
// does not start on a policy nobody checked.
func loadPolicy(dataDir, file string) (*policy.Policy, string, error) {
	if file == "" {
		cand := filepath.Join(dataDir, PolicyFile)
		if _, err := os.Stat(cand); err == nil {
			file = cand
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
	}
	if file == "" {
		return policy.Default(), "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("policy: %w", err)
	}
	p, err := policy.Parse(b)
	if err != nil {
		return nil, "", fmt.Errorf("policy %s: %w", file, err)
	}
	return p, file, nil
}

func validGroup(g string) bool {
	if len(g) > 64 {
		return false
	}
	for _, r := range g {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func cmdDeviceSetGroup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("device set-group", stderr)
	pos, err := f.parse(args, 2)
	if err != nil {
		return err
	}
	if !validGroup(pos[1]) {
		return usageError{errors.New("group: up to 64 letters, digits, '.', '_' or '-'")}
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetDeviceGroup(ctx, pos[0], pos[1]); err != nil {
		return err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "cli", Action: "device.set_group", Target: pos[0], Detail: pos[1]})
	fmt.Fprintf(stdout, "device %s is in group %q (a running collector rescores it at its next report or policy change)\n", pos[0], pos[1])
	return nil
}

func cmdClusters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("clusters", stderr)
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	cs, err := st.Clusters(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if cs == nil {
			cs = []store.Cluster{}
		}
		return writeJSON(stdout, cs)
	}
	if len(cs) == 0 {
		fmt.Fprintln(stdout, "no clusters: no two devices share a home network (the collector correlates every 5 minutes)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tMEMBERS\tSHARED\tFIRST\tLAST")
	for _, c := range cs {
		var shared []string
		for _, l := range c.Links {
			shared = append(shared, l.Kind+"="+l.Value)
			if len(shared) == 4 {
				shared = append(shared, "...")
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", c.ID, len(c.Members), strings.Join(shared, " "), c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func cmdPolicyShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("policy show", stderr)
	def := f.Bool("default", false, "show the built-in default policy")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	if *def {
		_, err := stdout.Write(policy.Default().Source())
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ps, err := st.Policies(ctx, 1)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(stderr, "# no policy recorded yet: the collector runs the built-in default")
		_, err := stdout.Write(policy.Default().Source())
		return err
	}
	fmt.Fprintf(stderr, "# policy %s, activated %s by %s\n", ps[0].Version, ps[0].ActivatedAt.Local().Format(time.DateTime), ps[0].CreatedBy)
	_, err = stdout.Write(ps[0].Content)
	return err
}

func cmdPolicyCheck(args []string, stdout, stderr io.Writer) error {
	f := newFlags("policy check", stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	p, err := policy.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "%s: valid policy %s\n", pos[0], p.Version())
	return nil
}

func cmdPolicyHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("policy history", stderr)
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ps, err := st.Policies(ctx, 100)
	if err != nil {
		return err
	}
	type row struct {
		Version     string    `json:"version"`
		ActivatedAt time.Time `json:"activated_at"`
		By          string    `json:"by"`
	}
	rows := []row{}
	for _, p := range ps {
		rows = append(rows, row{p.Version, p.ActivatedAt, p.CreatedBy})
	}
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tACTIVATED\tBY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Version, r.ActivatedAt.Local().Format(time.DateTime), r.By)
	}
	return tw.Flush()
}
