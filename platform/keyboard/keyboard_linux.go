package keyboard

import "context"

func list(ctx context.Context) ([]Layout, error) {
	return readTree(ctx, "/")
}
