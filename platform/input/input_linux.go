package input

import "context"

// list reads the live /proc through the same code as a captured tree.
func list(ctx context.Context) ([]Device, error) {
	return readProc(ctx, "/")
}
