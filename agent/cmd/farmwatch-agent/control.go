package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/atomicfile"
)

// serviceManager is the OS service manager as the control commands see it. kardianos/service
// implements it (osManager); tests put a fake in its place.
type serviceManager interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Status() (service.Status, error)
}

// controller runs install, uninstall, start, stop and status. Its fields are what the commands
// need from outside the process: main wires the real ones (newController), tests fakes.
type controller struct {
	manager func(configFile string) (serviceManager, error)
	// goodbye tells the collector the agent is about to go.
	goodbye func(ctx context.Context, cfg config.Config, reason, actor string, authorized bool) error
	actor   func() string // who is asking, for the goodbye
	stdout  io.Writer
	stderr  io.Writer
}

func newController(stdout, stderr io.Writer) *controller {
	return &controller{manager: osManager, goodbye: collectorGoodbye, actor: currentActor, stdout: stdout, stderr: stderr}
}

// LSB exit codes of `status`.
const (
	exitRunning      = 0
	exitStopped      = 3
	exitNotInstalled = 4
)

// exitCode is an error that sets the exit status without more to say.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errRefused marks an uninstall refused for its token.
var errRefused = errors.New("uninstall refused")

func (c *controller) install(cfg config.Config, configFile string) error {
	m, err := c.manager(configFile)
	if err != nil {
		return err
	}
	if err := m.Install(); err != nil {
		return fmt.Errorf("install the service: %w", err)
	}
	fmt.Fprintf(c.stdout, "installed the %s service (restarts on failure, starts at boot); start it now with: farmwatch-agent start\n", serviceName)
	return nil
}

// uninstall removes the service. When the policy (or the configuration) holds an uninstall token
// hash it refuses unless token matches, so that the person at the keyboard cannot quietly remove
// the agent. It tells the collector before it removes anything; an unreachable collector does not
// block an authorised uninstall, which is reported on stderr.
func (c *controller) uninstall(ctx context.Context, cfg config.Config, configFile, token string) error {
	hash, from, err := config.EffectiveUninstallHash(cfg)
	if err != nil {
		return fmt.Errorf("%w: cannot tell whether a token is required: %v", errRefused, err)
	}
	authorized := false
	if hash != "" {
		if token == "" {
			return fmt.Errorf("%w: this agent requires an uninstall token (set by %s): farmwatch-agent uninstall --token TOKEN", errRefused, from)
		}
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(hash)) != 1 {
			return fmt.Errorf("%w: wrong uninstall token", errRefused)
		}
		authorized = true
	}
	m, err := c.manager(configFile)
	if err != nil {
		return err
	}
	st, err := m.Status()
	if errors.Is(err, service.ErrNotInstalled) {
		return errors.New("the service is not installed")
	}
	c.sayGoodbye(ctx, cfg, "uninstall", authorized)
	if st == service.StatusRunning {
		if err := m.Stop(); err != nil {
			fmt.Fprintf(c.stderr, "farmwatch-agent: stop before uninstall: %v\n", err)
		}
	}
	if err := m.Uninstall(); err != nil {
		return fmt.Errorf("uninstall the service: %w", err)
	}
	fmt.Fprintf(c.stdout, "removed the %s service; its state (enrollment, spool) is kept in %s\n", serviceName, cfg.StateDir)
	return nil
}

func (c *controller) start(configFile string) error {
	m, err := c.manager(configFile)
	if err != nil {
		return err
	}
	if err := m.Start(); err != nil {
		return fmt.Errorf("start the service: %w", err)
	}
	fmt.Fprintf(c.stdout, "started %s\n", serviceName)
	return nil
}

// stop tells the collector first, then stops the service. The running service would say
// goodbye from its Stop hook too; the mark left here keeps that to one goodbye.
func (c *controller) stop(ctx context.Context, cfg config.Config, configFile string) error {
	m, err := c.manager(configFile)
	if err != nil {
		return err
	}
	st, err := m.Status()
	if errors.Is(err, service.ErrNotInstalled) {
		return errors.New("the service is not installed")
	}
	if err == nil && st != service.StatusRunning {
		fmt.Fprintf(c.stdout, "%s is not running\n", serviceName)
		return nil
	}
	c.sayGoodbye(ctx, cfg, "stop", false)
	if err := m.Stop(); err != nil {
		return fmt.Errorf("stop the service: %w", err)
	}
	fmt.Fprintf(c.stdout, "stopped %s\n", serviceName)
	return nil
}

func (c *controller) status(configFile string) error {
	m, err := c.manager(configFile)
	if err != nil {
		return err
	}
	st, err := m.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		fmt.Fprintln(c.stdout, "not installed")
		return exitCode(exitNotInstalled)
	case err != nil:
		fmt.Fprintf(c.stdout, "unknown (%v)\n", err)
		return exitCode(exitNotInstalled)
	case st == service.StatusRunning:
		fmt.Fprintln(c.stdout, "running")
		return nil
	case st == service.StatusStopped:
		fmt.Fprintln(c.stdout, "stopped")
		return exitCode(exitStopped)
	}
	fmt.Fprintln(c.stdout, "unknown")
	return exitCode(exitNotInstalled)
}

func (c *controller) sayGoodbye(ctx context.Context, cfg config.Config, reason string, authorized bool) {
	actor := c.actor()
	if err := c.goodbye(ctx, cfg, reason, actor, authorized); err != nil {
		fmt.Fprintf(c.stderr, "farmwatch-agent: could not tell the collector (%v); going on\n", err)
		return
	}
	markGoodbye(cfg.StateDir, reason)
}

// collectorGoodbye connects with the enrollment in the state directory and sends the goodbye.
// It does not open the spool (the running service holds it), so last_sequence is 0.
func collectorGoodbye(ctx context.Context, cfg config.Config, reason, actor string, authorized bool) error {
	dir := state.Dir{Path: cfg.StateDir}
	r := &runner.Runner{State: dir}
	if err := r.Connect(); err != nil {
		return err
	}
	defer r.Close()
	return r.Goodbye(ctx, reason, actor, authorized)
}

// currentActor names who runs the command: the sudo user when there is one, since root says
// little about which person asked.
func currentActor() string {
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if s := os.Getenv("SUDO_USER"); s != "" {
		name = s + " (via sudo)"
	}
	return name
}

// goodbyeMarkFile records that a control command already said goodbye, for the service's
// Stop hook; it is honoured for goodbyeMarkTTL.
const (
	goodbyeMarkFile = "goodbye-sent"
	goodbyeMarkTTL  = 2 * time.Minute
)

func markGoodbye(stateDir, reason string) {
	_ = atomicfile.Write(filepath.Join(stateDir, goodbyeMarkFile), []byte(reason+" "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// takeGoodbyeMark reports (and clears) a goodbye a control command sent in the last two minutes.
func takeGoodbyeMark(stateDir string, now time.Time) bool {
	path := filepath.Join(stateDir, goodbyeMarkFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	os.Remove(path)
	_, at, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	t, err := time.Parse(time.RFC3339, at)
	return err == nil && now.Sub(t) < goodbyeMarkTTL && now.Sub(t) > -time.Minute
}
