package process

import "context"

// capturedTreeSockets: a captured tree's sockets are read on Linux, as the live system's.
const capturedTreeSockets = true

func list(context.Context) ([]Process, Counts, error) {
	return readProcfs("/", true)
}
