package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/api"
)

// revocation is a dead region's host lease the leader revokes, and why it is dead.
type revocation struct {
	region   string
	lease    int64
	failures int
	// firstFailed is when the first of the failed probes was sent (zero when declared).
	firstFailed time.Time
	declared    bool // on request (Declare), not by probes
}

// declaration is a pending request to declare a region dead.
type declaration struct {
	lease  int64 // the host lease the request names
	modRev int64
}

// Declare asks the controller leader to declare region dead as if its host had failed its
// probes: the leader writes target hints for the region's agents and revokes lease, the
// host lease the caller read from the region's host key. It returns once the request is
// stored; the leader honours it on its next pass (while lease is still the host's) and then
// deletes it. A wrong declaration costs availability, never safety: the epoch fences the
// deposed host.
func Declare(ctx context.Context, cli *clientv3.Client, region string, lease int64) error {
	if _, err := cli.Put(ctx, api.DeclareKey(region), strconv.FormatInt(lease, 10)); err != nil {
		return fmt.Errorf("declare region %s dead: %w", region, err)
	}
	return nil
}

func readDeclarations(ctx context.Context, cli *clientv3.Client) (map[string]declaration, error) {
	resp, err := cli.Get(ctx, api.DeclarePrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read declarations: %w", err)
	}
	out := map[string]declaration{}
	for _, kv := range resp.Kvs {
		lease, _ := strconv.ParseInt(string(kv.Value), 10, 64) // unparsable: 0, never a live lease
		out[strings.TrimPrefix(string(kv.Key), api.DeclarePrefix())] = declaration{lease: lease, modRev: kv.ModRevision}
	}
	return out, nil
}

// deleteDeclarations removes the requests read, unless one was rewritten since.
func deleteDeclarations(ctx context.Context, cli *clientv3.Client, declared map[string]declaration) error {
	for region, d := range declared {
		k := api.DeclareKey(region)
		if _, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", d.modRev)).
			Then(clientv3.OpDelete(k)).Commit(); err != nil {
			return fmt.Errorf("delete declaration of %s: %w", region, err)
		}
	}
	return nil
}
