// Package perf holds the agent's performance measurements, as tests and benchmarks only:
//
//   - BenchmarkScan300 and BenchmarkRawFloor: a full live scan, and the raw cost of reading the
//     files that scan reads with no parsing, both on a machine brought to at least 300
//     processes (real children, a few holding loopback TCP sockets); p50 and p99 per scan.
//   - TestAgentSteadyState (FARMWATCH_PERF=1): the real agent binary enrolled with a real
//     collector, run for minutes; its resident memory and idle CPU.
//
// Linux only: they read /proc. See docs/performance-agent.md for the figures and commands.
package perf
