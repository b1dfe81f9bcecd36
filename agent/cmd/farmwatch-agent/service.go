package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/kardianos/service"
)

// serviceName names the agent for the OS service managers (systemd unit, launchd label, Windows
// service and Event Log source).
const serviceName = "farmwatch-agent"

// serviceConfig is what `install` registers: `farmwatch-agent run [--config FILE]` as root
// (systemd system unit, launchd daemon) or LocalSystem (Windows), started at boot and restarted
// when it fails. Options are those kardianos/service v1.3.0 reads; see systemdUnit for the one
// thing it cannot set.
func serviceConfig(configFile string) *service.Config {
	args := []string{"run"}
	if configFile != "" {
		if abs, err := filepath.Abs(configFile); err == nil {
			configFile = abs
		}
		args = append(args, "--config", configFile)
	}
	c := &service.Config{
		Name:        serviceName,
		DisplayName: "Farmwatch agent",
		Description: "Reports signs of remote control, KVM-over-IP hardware and relays on this laptop to the Farmwatch collector.",
		Arguments:   args,
		Option: service.KeyValue{
			// systemd: Restart=always; RestartSec comes from systemdUnit.
			"Restart":       "always",
			"SystemdScript": systemdUnit,
			// launchd: start at boot (kardianos defaults RunAtLoad to false) and relaunch on exit;
			// launchd's own stderr capture goes next to the agent's log file.
			"KeepAlive":    true,
			"RunAtLoad":    true,
			"LogDirectory": darwinLogDir,
			// Windows SCM: automatic start, restart 5 s after a failure; the counter resets after a
			// day. windowsRecovery (after Install) adds the actions for later failures and for
			// exits with an error code, which v1.3.0 does not set.
			"StartType":              "automatic",
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "5s",
			"OnFailureResetPeriod":   86400,
		},
	}
	if runtime.GOOS == "linux" {
		// On Windows Dependencies are service names, so these lines are for systemd only.
		c.Dependencies = []string{"After=network-online.target", "Wants=network-online.target"}
	}
	return c
}

// darwinLogDir is where admins look for daemon logs on macOS (Console.app lists /Library/Logs).
const darwinLogDir = "/Library/Logs/Farmwatch"

// systemdUnit is kardianos/service v1.3.0's own systemd template with one change: RestartSec=5
// instead of its hard-coded 120, which no option reaches. Keys and functions are those of the
// library's template (it is rendered by the library's small engine, not text/template).
const systemdUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
{{range Dependencies}}{{.}}
{{end}}
[Service]
StartLimitInterval=5
StartLimitBurst=10
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if ChRoot}}RootDirectory={{ChRoot | cmd}}
{{end}}{{if WorkingDirectory}}WorkingDirectory={{WorkingDirectory | cmdEscape}}
{{end}}{{if UserName}}User={{UserName}}
{{end}}{{if ReloadSignal}}ExecReload=/bin/kill -{{ReloadSignal}} "$MAINPID"
{{end}}{{if PIDFile}}PIDFile={{PIDFile | cmd}}
{{end}}{{if OutputFileSupport}}StandardOutput=file:{{LogDirectory}}/{{Name}}.out
StandardError=file:{{LogDirectory}}/{{Name}}.err
{{end}}{{if LimitNOFILE}}LimitNOFILE={{LimitNOFILE}}
{{end}}{{if Restart}}Restart={{Restart}}
{{end}}{{if SuccessExitStatus}}SuccessExitStatus={{SuccessExitStatus}}
{{end}}RestartSec=5
EnvironmentFile=-/etc/sysconfig/{{Name}}

{{range EnvVars}}{{.}}
{{end}}[Install]
WantedBy=multi-user.target
`

// program adapts the run loop to kardianos/service: Start returns at once, Stop says goodbye to
// the collector, cancels the loop and waits for it, so the Windows SCM handshake and signals on
// Unix are handled for us.
type program struct {
	run func(context.Context) error
	// goodbye is called with "stop" or "shutdown" before the loop is cancelled, while the
	// connection is still open.
	goodbye func(reason string)
	log     *slog.Logger
	// stateDir holds the upgrade marker a package writes before it restarts the service.
	stateDir string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.err = p.run(ctx)
		if p.err != nil && ctx.Err() == nil {
			// The loop died on its own: exit non-zero so that systemd, launchd or the SCM
			// restarts us, rather than idle as a service that reports nothing.
			p.log.Error("agent stopped on an error; exiting for the service manager to restart it", "err", p.err)
			os.Exit(1)
		}
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	reason := "stop"
	switch {
	case upgrading(p.stateDir):
		reason = "upgrade"
	case systemShuttingDown():
		reason = "shutdown"
	}
	return p.stop(reason)
}

// UpgradeMarker is the file a package's install script creates in the state directory just
// before it restarts the service to run a new binary: the stop that follows is an upgrade, not
// someone stopping the agent.
const UpgradeMarker = "upgrading"

// upgrading says whether a fresh upgrade marker is present, and removes it.
func upgrading(stateDir string) bool {
	if stateDir == "" {
		return false
	}
	path := filepath.Join(stateDir, UpgradeMarker)
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	os.Remove(path)
	return time.Since(fi.ModTime()) < 10*time.Minute
}

// Shutdown is called by the Windows SCM when the machine shuts down (kardianos Shutdowner).
func (p *program) Shutdown(service.Service) error { return p.stop("shutdown") }

func (p *program) stop(reason string) error {
	if p.goodbye != nil {
		p.goodbye(reason)
	}
	p.cancel()
	p.wg.Wait()
	return nil
}

// newService binds p to the OS service manager. This and the kardianos calls made through it
// (Run, Install, Uninstall, Start, Stop, Status) are the OS boundary: they are not unit-tested.
func newService(p service.Interface, configFile string) (service.Service, error) {
	return service.New(p, serviceConfig(configFile))
}

// kardianosManager is the real serviceManager. Install also does what v1.3.0 leaves out on
// each OS (the macOS log directory, the Windows recovery actions).
type kardianosManager struct{ service.Service }

func (m kardianosManager) Install() error {
	if runtime.GOOS == "darwin" {
		if err := os.MkdirAll(darwinLogDir, 0o755); err != nil {
			return err
		}
	}
	if err := m.Service.Install(); err != nil {
		return err
	}
	return windowsRecovery(serviceName)
}

func osManager(configFile string) (serviceManager, error) {
	s, err := newService(&program{}, configFile)
	if err != nil {
		return nil, err
	}
	return kardianosManager{s}, nil
}
