// Command harness runs geodrill drills: bring up the reference stack, drive load, inject
// faults, check the history and write a report. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// main stops on SIGINT, SIGTERM and SIGHUP (a closed terminal, a CI runner going away): the
// first cancels the command, which recovers its faults, stops what it started and keeps a
// partial report; a second one kills the process at once.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		stop() // the next signal takes its default action
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
