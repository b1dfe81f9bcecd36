package host

import "context"

// read reads the live system through the same files as a captured tree.
func read(ctx context.Context) (Identity, error) {
	return readTree(ctx, "/", true)
}
