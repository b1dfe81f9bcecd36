package remoteaccess

import "context"

func read(context.Context) (State, error) {
	m, err := macSharing("/")
	return State{ScreenSharing: m}, err
}
