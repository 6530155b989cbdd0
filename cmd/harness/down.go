package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/geodrill/geodrill/clusters/local"
	"github.com/geodrill/geodrill/clusters/netns"
)

// cmdDown removes what a killed harness left behind: the netns provider's namespaces,
// bridges and veths (their nftables rules live inside the namespaces and go with them),
// and, for each RUN_DIR given, the processes started for it.
func cmdDown(ctx context.Context, args []string, stdout io.Writer) error {
	for _, dir := range args {
		pids, err := local.KillLeftovers(dir)
		if err != nil {
			return fmt.Errorf("down %s: %w", dir, err)
		}
		fmt.Fprintf(stdout, "%s: killed %d leftover processes %v\n", dir, len(pids), pids)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stdout, "not root: skipping network namespaces (only the netns provider, as root, creates them)")
		return nil
	}
	removed, err := netns.Cleanup(ctx)
	if len(removed) > 0 {
		fmt.Fprintf(stdout, "removed %s\n", strings.Join(removed, ", "))
	} else if err == nil {
		fmt.Fprintln(stdout, "no geodrill namespaces or links left")
	}
	if err != nil {
		return fmt.Errorf("down: %w (remove them by hand with `ip netns del` / `ip link del`)", err)
	}
	return nil
}
