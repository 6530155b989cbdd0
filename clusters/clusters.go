// Package clusters is where a reference stack runs: what every provider shares — the
// small Cluster interface (up, endpoints, down), the Observer the drill reads owners
// through, the Spec a provider brings up and the Endpoints it answers at. The capabilities
// a fault asks for by type assertion are declared once, in package faults, where they are
// used. Providers live in subpackages (clusters/local, clusters/netns) and import this one;
// clusters/providers is their table.
package clusters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
)

// Cluster is a stack that can be brought up and down.
type Cluster interface {
	// Up starts every service and returns when the router knows an owner for every agent.
	Up(ctx context.Context) error
	// Endpoints is valid after a successful Up.
	Endpoints() Endpoints
	// Down stops everything Up started. It is idempotent and safe after a failed Up; it
	// still cleans up when ctx is already cancelled (it then skips the graceful wait).
	Down(ctx context.Context) error
}

// Observer reads what the stack reports about itself.
type Observer interface {
	// Owners is the router's view: agent -> owner, for every agent that has one.
	Owners(ctx context.Context) (map[string]api.Owner, error)
}

// RouterOwners reads the owners from a router's /status (api.RouterStatus); a provider
// without its own Observer can use it with Endpoints().Router.
func RouterOwners(ctx context.Context, routerURL string) (map[string]api.Owner, error) {
	return RouterOwnersWith(ctx, &http.Client{Timeout: 5 * time.Second}, routerURL)
}

// DownTimeout bounds the Down that With runs after fn.
const DownTimeout = 60 * time.Second

// With brings c up, runs fn, and brings c down whatever happens: fn returning, fn or Up
// failing, fn panicking (Down runs, then the panic continues), or ctx being cancelled, e.g.
// by SIGINT through signal.NotifyContext. Down gets a fresh context because ctx may be the
// very thing that was cancelled. Down errors are joined to the returned error.
func With(ctx context.Context, c Cluster, fn func(ctx context.Context) error) (err error) {
	defer func() {
		p := recover()
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DownTimeout)
		defer cancel()
		if derr := c.Down(downCtx); derr != nil {
			err = errors.Join(err, fmt.Errorf("cluster down: %w", derr))
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := c.Up(ctx); err != nil {
		return fmt.Errorf("cluster up: %w", err)
	}
	return fn(ctx)
}
