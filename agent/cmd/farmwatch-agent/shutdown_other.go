//go:build !linux

package main

// systemShuttingDown: Windows tells a shutdown apart itself (program.Shutdown); launchd gives a
// daemon no way to know, so on macOS a shutdown is reported as a stop.
func systemShuttingDown() bool { return false }
