package eval

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
)

// Default thresholds (docs/scenarios.md): no benign device at high or above; at least 90% of
// the farm devices at high or above (the aim is all: the misses are listed and explained); and
// every farm device at medium or above, in the analysts' queue.
const (
	DefaultMinRecallHigh   = 0.9
	DefaultMaxFPRHigh      = 0.0
	DefaultMinRecallMedium = 1.0
)

// WriteText writes the report for a reader: figures per band and family, clusters, and every
// misclassified device with its score breakdown.
func (r Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "Scenario suite %s: %d devices (%d farm, %d benign) in %d fleets; policy %s\n\n", r.Scenarios, r.Devices, r.Farm, r.Benign, len(r.Fleets), r.PolicyVersion)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "band\tTP\tFP\tFN\tTN\tprecision\trecall\tFPR")
	for _, m := range r.Bands {
		fmt.Fprintf(tw, "%s+\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\n", m.Band, m.TP, m.FP, m.FN, m.TN, m.Precision, m.Recall, m.FPR)
	}
	tw.Flush()
	fmt.Fprintf(ew, "\nPer family (devices exercising it, flagged at %s+; scored = devices where the family scored points):\n", GateBand)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "family\tdevices\tTP\tFP\tFN\tTN\tprecision\trecall\tFPR\tscored farm/benign")
	for _, f := range r.Families {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d/%d\n", f.Family, f.Devices, f.TP, f.FP, f.FN, f.TN, f.Precision, f.Recall, f.FPR, f.FarmScored, f.BenignScored)
	}
	tw.Flush()
	fmt.Fprintln(ew, "\nFleets:")
	for _, f := range r.Fleets {
		fmt.Fprintf(ew, "  %s (%s): %d devices, %d farm, %d benign, %d cluster(s)\n", f.Name, f.File, f.Devices, f.Farm, f.Benign, len(f.Clusters))
		for _, c := range f.Clusters {
			fmt.Fprintf(ew, "    %s [%s]: %s\n", c.ID, strings.Join(c.Kinds, ", "), strings.Join(c.Members, ", "))
		}
	}
	fmt.Fprintln(ew, "\nDevices:")
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, d := range r.Results {
		mark := ""
		if d.Wrong {
			mark = "MISCLASSIFIED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%5.1f\t%s\t%s\t%s\n", d.ID, d.Label, d.Score, d.Band, mark, d.Case)
	}
	tw.Flush()
	fmt.Fprintf(ew, "\nMisclassified at %s: %d\n", GateBand, len(r.Misclassified))
	for _, d := range r.Misclassified {
		writeBreakdown(ew, d)
	}
	return ew.err
}

func writeBreakdown(w io.Writer, d DeviceResult) {
	fmt.Fprintf(w, "\n  %s (%s, fleet %s, group %q): labelled %s, score %.1f, band %s\n    case: %s\n", d.ID, d.Hostname, d.Fleet, d.Group, d.Label, d.Score, d.Band, d.Case)
	fmt.Fprintf(w, "    base %.1f + conjunction %.1f; families:", d.Result.Base, d.Result.Conjunction)
	for _, f := range d.Result.Families {
		fmt.Fprintf(w, " %s %.1f", f.Name, f.Points)
	}
	fmt.Fprintln(w)
	for _, c := range d.Result.Contributions {
		extra := ""
		if c.Allowlist != "" {
			extra = " allowlisted: " + c.Allowlist
		} else if c.Note != "" {
			extra = " (" + c.Note + ")"
		}
		fmt.Fprintf(w, "    %6.2f  %-28s %-8s w%.0f x sev %.2f x conf %.2f x decay %.2f  %s%s\n", c.Points, c.Signal, c.Severity, c.Weight, c.SeverityFactor, c.Confidence, c.Decay, trunc(c.Title, 90), extra)
	}
}

func trunc(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// Command implements `farmwatch-server eval --scenarios DIR [--json] [--policy FILE]
// [--min-recall-high X] [--max-fpr-high Y]`. It returns the exit code: 0 when the thresholds
// hold, 1 when they fail or the suite cannot be evaluated, 2 on bad usage.
func Command(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("scenarios", "", "directory of fleet files (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	policyFile := fs.String("policy", "", "policy file (default: the built-in policy)")
	minRecall := fs.Float64("min-recall-high", DefaultMinRecallHigh, "fail when recall at high is below this")
	maxFPR := fs.Float64("max-fpr-high", DefaultMaxFPRHigh, "fail when the false-positive rate at high is above this")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: farmwatch-server eval --scenarios DIR [--json] [--policy FILE] [--min-recall-high X] [--max-fpr-high Y]")
		return 2
	}
	p := policy.Default()
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			fmt.Fprintln(stderr, "eval:", err)
			return 1
		}
		if p, err = policy.Parse(b); err != nil {
			fmt.Fprintf(stderr, "eval: %s: %v\n", *policyFile, err)
			return 1
		}
	}
	r, err := Run(*dir, p, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "eval:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "eval:", err)
			return 1
		}
	} else if err := r.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "eval:", err)
		return 1
	}
	if fails := r.Check(*minRecall, *maxFPR); len(fails) > 0 {
		for _, f := range fails {
			fmt.Fprintln(stderr, "eval: threshold failed:", f)
		}
		return 1
	}
	return 0
}
