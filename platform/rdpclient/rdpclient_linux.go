package rdpclient

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// clients reads xrdp's logs and the live /proc; see Clients.
func clients(ctx context.Context, listed []Proc) ([]*pb.RdpClient, error) {
	return xrdpClients(ctx, "/", listed)
}
