package timezone

import (
	"context"
	"time"
)

func read(context.Context) (Zone, error) {
	return readTree("/", true, time.Now())
}
