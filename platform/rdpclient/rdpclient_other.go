//go:build !linux && !windows && !darwin

package rdpclient

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func clients(context.Context, []Proc) ([]*pb.RdpClient, error) {
	return nil, ErrNotImplemented
}
