// Command refstack runs one component of the reference stack (the system geodrill drills):
// an embedded etcd member, a region's agent host, the router, or the registry writer.
// See refstack/cli for the subcommands and flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/geodrill/geodrill/refstack/cli"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], os.Stderr)
}
