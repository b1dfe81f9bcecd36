package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/farmwatch/farmwatch/agent/config"
)

// cmdConfig runs `config check`: the effective configuration with the source of each value
// (secrets redacted), the uninstall token in force, and every problem; exit status 1 when there
// is one.
func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{errors.New("usage: farmwatch-agent config check [--config FILE]")}
	}
	fs := newFlags("config check", stderr)
	configFile := fs.String("config", "", "configuration file to check (default: FARMWATCH_CONFIG or the OS default)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, srcs, err := loadConfig(fs, *configFile, nil)
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
	for _, s := range srcs {
		v := s.Value
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, s.From)
	}
	tw.Flush()
	if hash, from, perr := config.EffectiveUninstallHash(cfg); perr != nil {
		fmt.Fprintf(stdout, "\nuninstall token: cannot tell (%v); uninstall will refuse\n", perr)
	} else if hash != "" {
		fmt.Fprintf(stdout, "\nuninstall token: required (%s)\n", from)
	} else {
		fmt.Fprintln(stdout, "\nuninstall token: not required")
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		fmt.Fprintf(stdout, "\n%d problem(s):\n", len(cerr.Problems))
		for _, p := range cerr.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return exitCode(1)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nconfiguration OK")
	return nil
}
