// Command adapter serves geodrill's system-under-test contract (README "The
// system-under-test contract") in front of a system that does not speak it:
//
//	adapter redis-sentinel --listen ADDR --master NAME --sentinels a=H:P,... --redis a=H:P,... --agents N
//	        [--unsafe-cache-primary]   (a planted bug, for the tests: see adapters/redis)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/geodrill/geodrill/adapters/redis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "adapter: %v\n", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "redis-sentinel" {
		return errors.New("usage: adapter redis-sentinel --listen ADDR --master NAME --sentinels a=H:P,... --redis a=H:P,... --agents N")
	}
	fs := flag.NewFlagSet("redis-sentinel", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "")
	master := fs.String("master", "geodrill", "")
	sentinels := fs.String("sentinels", "", "")
	redisAddrs := fs.String("redis", "", "")
	agents := fs.Int("agents", 0, "")
	cachePrimary := fs.Bool("unsafe-cache-primary", false, "planted bug: ask the Sentinels once and keep that primary")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	s, err := redis.ParseRegions(*sentinels)
	if err != nil {
		return fmt.Errorf("--sentinels: %w", err)
	}
	r, err := redis.ParseRegions(*redisAddrs)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	a, err := redis.New(redis.Config{Master: *master, Sentinels: s, Redis: r, Agents: *agents, UnsafeCachePrimary: *cachePrimary})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	go a.Run(ctx)
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "adapter: redis-sentinel on %s (master %s)\n", ln.Addr(), *master)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
