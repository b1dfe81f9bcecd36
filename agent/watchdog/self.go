package watchdog

import "time"

// ReadSelf samples this process: CPU time and resident memory.
func ReadSelf() (Sample, error) {
	cpu, err := cpuTime()
	if err != nil {
		return Sample{}, err
	}
	rss, err := residentBytes()
	if err != nil {
		return Sample{}, err
	}
	return Sample{At: time.Now(), CPU: cpu, RSS: rss}, nil
}
