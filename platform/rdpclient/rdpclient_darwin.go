package rdpclient

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// clients has nothing to read: macOS has no RDP server (Screen Sharing
// speaks VNC), so there is no RDP client.
func clients(context.Context, []Proc) ([]*pb.RdpClient, error) {
	return nil, nil
}
