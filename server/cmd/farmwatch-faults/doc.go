// Command farmwatch-faults is the evidence program for "nothing lost" (`make test-faults`). It
// runs the real collector binary and the real agent code as separate processes on loopback,
// injects faults, and then checks the collector's SQLite store against what the agents assigned
// and what the collector acknowledged:
//
//  1. agent kill -9: the agent (this program re-executed as `agent-child`, which builds the
//     agent's runner, spool, client and scanner exactly as `farmwatch-agent run` does, only with a
//     short scan interval, no packet sniffer and, here only, without the os_remote detector, whose
//     listener probes make a fresh agent's first scans take ~700 ms) is killed with SIGKILL at
//     random moments, 20-400 ms after each start, while it scans, spools, sends and deletes
//     acknowledged reports, and restarted, many times. Proven:
//     every sequence the spool assigned is stored exactly once or still spooled (none lost, none
//     stored twice, no gaps), and the spool file always reopens without being set aside.
//  2. collector kill -9: simulated devices, enrolled through the real Enroll RPC with their own
//     keys, upload a real scan report re-sequenced 1, 2, 3... over mutual TLS while the collector
//     process is killed with SIGKILL and restarted on the same data directory and port. Proven:
//     every report the collector acknowledged is in the store after the crashes (the
//     acknowledgement follows a durable commit), nothing is stored twice, and the replays of
//     reports committed just before a crash are answered as duplicates.
//  3. outage with the spool cap: with the collector down, the agent spools three times its byte
//     cap. Proven: the oldest reports are evicted and counted, the newest arrive once the
//     collector is back, and sent = stored + evicted (nothing else lost).
//  4. disk full: the agent's state directory is a small tmpfs filled to ENOSPC while the agent
//     runs; the agent is also killed with SIGKILL and restarted while the disk is full. Proven:
//     the agent does not crash, its spool is not corrupted or set aside, and once space is freed
//     it spools and delivers again with nothing lost.
//
// It prints one row per scenario (kills, sent, acked, stored, lost, duplicated, notes) and exits
// non-zero when anything acknowledged is lost, a sequence is stored twice, or a scenario stops
// making progress. Linux only (process groups, SIGKILL, tmpfs).
package main
