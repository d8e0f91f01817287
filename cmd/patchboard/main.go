// Command patchboard is the Patchboard device registration portal and its
// command line: serve the portal, import inventory and group members, run
// discovery, export blades to CSV, act on devices and manage local users.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, errUsageShown) {
			fmt.Fprintln(os.Stderr, "patchboard: "+err.Error())
		}
		os.Exit(exitCode(err))
	}
}

// env is how the program reads its environment, injectable for tests.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}
