package service

import "context"

func list(ctx context.Context) ([]Service, error) {
	return launchdJobs(ctx, "/")
}
