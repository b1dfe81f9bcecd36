//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "farmwatch-faults: Linux only")
	os.Exit(2)
}
