package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	"howett.net/plist"
)

// appleRemoteJobs are the prefixes of the Apple job files read from
// System/Library: Screen Sharing and Apple Remote Desktop / Remote
// Management. The other few hundred Apple jobs are skipped to keep List
// cheap.
var appleRemoteJobs = []string{"com.apple.screensharing", "com.apple.RemoteDesktop", "com.apple.RemoteManagement"}

// launchdJobs reads the launchd job plists under root.
func launchdJobs(ctx context.Context, root string) ([]Service, error) {
	type dir struct {
		rel, user string
		apple     bool
	}
	dirs := []dir{
		{rel: "Library/LaunchDaemons"},
		{rel: "Library/LaunchAgents"},
		{rel: "System/Library/LaunchDaemons", apple: true},
		{rel: "System/Library/LaunchAgents", apple: true},
	}
	users, uerr := fsroot.ReadDir(filepath.Join(root, "Users"))
	for _, u := range users {
		if u.IsDir() && u.Name() != "Shared" {
			dirs = append(dirs, dir{rel: "Users/" + u.Name() + "/Library/LaunchAgents", user: u.Name()})
		}
	}
	errs := []error{uerr}
	overrides, err := launchdOverrides(root)
	if err != nil {
		errs = append(errs, err)
	}
	var svcs []Service
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return svcs, err
		}
		ents, err := fsroot.ReadDir(filepath.Join(root, filepath.FromSlash(d.rel)))
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".plist") {
				continue
			}
			if d.apple && !hasAnyPrefix(name, appleRemoteJobs) {
				continue
			}
			rel := d.rel + "/" + name
			b, err := fsroot.ReadFile(fsroot.Path(root, rel), maxFile)
			if err != nil {
				if !fsroot.Absent(err) {
					errs = append(errs, err)
				}
				continue
			}
			job, err := parseJob(b)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", filepath.Join(root, filepath.FromSlash(rel)), err))
				continue
			}
			s := job.service()
			s.Path = "/" + rel
			if s.User == "" {
				s.User = d.user
			}
			if disabled, ok := overrides[s.Name]; ok {
				s.Enabled = !disabled
			}
			svcs = append(svcs, s)
		}
	}
	return svcs, errors.Join(errs...)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// job holds the launchd.plist(5) keys List uses.
type job struct {
	Label            string   `plist:"Label"`
	Program          string   `plist:"Program"`
	ProgramArguments []string `plist:"ProgramArguments"`
	UserName         string   `plist:"UserName"`
	Disabled         bool     `plist:"Disabled"`
}

// service turns a job into a Service. Program wins over
// ProgramArguments[0] as in launchd; the arguments are always
// ProgramArguments[1:].
func (j job) service() Service {
	s := Service{Name: clean(j.Label), Manager: "launchd", Program: clean(j.Program), User: clean(j.UserName), Enabled: !j.Disabled}
	if len(j.ProgramArguments) > 0 {
		if s.Program == "" {
			s.Program = clean(j.ProgramArguments[0])
		}
		for _, a := range j.ProgramArguments[1:min(len(j.ProgramArguments), 257)] {
			s.Args = append(s.Args, clean(a))
		}
	}
	return s
}

// parseJob decodes a launchd plist (XML or binary). The plist decoder is
// not trusted not to panic on hostile input, so a panic becomes an error;
// a job without a Label is an error, as launchd refuses it.
func parseJob(b []byte) (j job, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed plist: %v", r)
		}
	}()
	if err := plist.NewDecoder(bytes.NewReader(b)).Decode(&j); err != nil {
		return job{}, fmt.Errorf("decode plist: %w", err)
	}
	if j.Label == "" {
		return job{}, errors.New("launchd job without Label")
	}
	return j, nil
}

// launchdOverrides reads launchd's database of "launchctl enable/disable"
// overrides for system jobs: label → true when disabled. macOS 10.10+
// keeps it in /private/var/db/com.apple.xpc.launchd/disabled.plist;
// per-user overrides (disabled.UID.plist) are not read. An absent file is
// no overrides.
func launchdOverrides(root string) (map[string]bool, error) {
	for _, rel := range []string{"private/var/db/com.apple.xpc.launchd/disabled.plist", "var/db/com.apple.xpc.launchd/disabled.plist"} {
		path := fsroot.Path(root, rel)
		b, err := fsroot.ReadFile(path, maxFile)
		if err != nil {
			if fsroot.Absent(err) {
				continue
			}
			return nil, err
		}
		m, err := parseOverrides(b)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return m, nil
	}
	return nil, nil
}

func parseOverrides(b []byte) (m map[string]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed plist: %v", r)
		}
	}()
	if err := plist.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode plist: %w", err)
	}
	return m, nil
}
