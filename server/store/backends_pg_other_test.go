//go:build !linux

package store

import "errors"

// A throwaway PostgreSQL cluster is started on Linux only; elsewhere point
// FARMWATCH_TEST_POSTGRES_DSN at a server or set FARMWATCH_SKIP_POSTGRES=1.
func pgStartCluster() error {
	return errors.New("the test PostgreSQL cluster is started on Linux only: set FARMWATCH_TEST_POSTGRES_DSN or FARMWATCH_SKIP_POSTGRES=1")
}

func pgStopCluster() {}
