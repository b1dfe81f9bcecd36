package keyboard

import (
	"context"

	"github.com/farmwatch/farmwatch/platform/winreg"
)

func list(ctx context.Context) ([]Layout, error) {
	return registryLayouts(ctx, winreg.Live{})
}
