package software

import "context"

func list(ctx context.Context) ([]Package, error) {
	return readLinux(ctx, "/")
}
