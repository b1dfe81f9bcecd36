package main

import (
	"context"
	"sync"

	"github.com/kardianos/service"
)

// serviceConfig names the agent for the OS service managers (systemd, launchd, Windows SCM).
var serviceConfig = &service.Config{
	Name:        "farmwatch-agent",
	DisplayName: "Farmwatch agent",
	Description: "Reports signs of remote control, KVM-over-IP hardware and relays on this laptop to the Farmwatch collector.",
}

// program adapts the run loop to kardianos/service: Start returns at once, Stop cancels the
// loop and waits for it, so the Windows SCM handshake and signals on Unix are handled for us.
type program struct {
	run    func(context.Context) error
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
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	p.wg.Wait()
	return nil
}

// runService runs fn under the OS service manager when started by one, or in the foreground
// until SIGINT/SIGTERM otherwise.
func runService(fn func(context.Context) error) error {
	p := &program{run: fn}
	s, err := service.New(p, serviceConfig)
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil {
		return err
	}
	return p.err
}
