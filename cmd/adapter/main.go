// Command adapter serves geodrill's system-under-test contract (README "The
// system-under-test contract") in front of a system that does not speak it:
//
//	adapter redis-sentinel --listen ADDR --master NAME --sentinels a=H:P,... --redis a=H:P,... --agents N
//	        [--unsafe-cache-primary]   (a planted bug, for the tests: see adapters/redis)
//	adapter patroni --listen ADDR --patroni a=H:P,... --postgres a=H:P,... --user U --password P --agents N
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

	"github.com/geodrill/geodrill/adapters"
	"github.com/geodrill/geodrill/adapters/postgres"
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

const usage = "usage: adapter redis-sentinel --listen ADDR --master NAME --sentinels a=H:P,... --redis a=H:P,... --agents N\n" +
	"       adapter patroni --listen ADDR --patroni a=H:P,... --postgres a=H:P,... --user U --password P --agents N"

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "redis-sentinel":
		return runRedis(ctx, args[1:])
	case "patroni":
		return runPatroni(ctx, args[1:])
	}
	return fmt.Errorf("unknown system %q\n%s", args[0], usage)
}

// serve serves h on listen until ctx ends, polling meanwhile.
func serve(ctx context.Context, listen, what string, h adapters.Handler, poll func(context.Context)) error {
	if h.Agents < 1 {
		return fmt.Errorf("--agents %d: give the drill's agent count, at least 1 (the scenario's topology.agents)", h.Agents)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go poll(ctx)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "adapter: %s on %s\n", what, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runPatroni(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("patroni", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "")
	patroni := fs.String("patroni", "", "")
	pg := fs.String("postgres", "", "")
	user := fs.String("user", "postgres", "")
	password := fs.String("password", "", "")
	database := fs.String("database", "postgres", "")
	agents := fs.Int("agents", 0, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := adapters.ParseRegions(*patroni)
	if err != nil {
		return fmt.Errorf("--patroni: %w", err)
	}
	q, err := adapters.ParseRegions(*pg)
	if err != nil {
		return fmt.Errorf("--postgres: %w", err)
	}
	a, err := postgres.New(postgres.Config{Patroni: p, Postgres: q, User: *user, Password: *password, Database: *database})
	if err != nil {
		return err
	}
	return serve(ctx, *listen, "patroni", adapters.Handler{B: a, Agents: *agents}, a.Run)
}

func runRedis(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("redis-sentinel", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "")
	master := fs.String("master", "geodrill", "")
	sentinels := fs.String("sentinels", "", "")
	redisAddrs := fs.String("redis", "", "")
	agents := fs.Int("agents", 0, "")
	cachePrimary := fs.Bool("unsafe-cache-primary", false, "planted bug: ask the Sentinels once and keep that primary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := adapters.ParseRegions(*sentinels)
	if err != nil {
		return fmt.Errorf("--sentinels: %w", err)
	}
	r, err := adapters.ParseRegions(*redisAddrs)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	a, err := redis.New(redis.Config{Master: *master, Sentinels: s, Redis: r, UnsafeCachePrimary: *cachePrimary})
	if err != nil {
		return err
	}
	return serve(ctx, *listen, "redis-sentinel (master "+*master+")", adapters.Handler{B: a, Agents: *agents}, a.Run)
}
