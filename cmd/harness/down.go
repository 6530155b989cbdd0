package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/rundir"
)

// cmdDown removes what a killed harness left behind: the netns provider's namespaces,
// bridges and veths (their nftables rules live inside the namespaces and go with them),
// and, for each RUN_DIR given, the processes started for it.
func cmdDown(ctx context.Context, args []string, stdout io.Writer) error {
	for _, dir := range args {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return inputError{fmt.Sprintf("down %s: not a run directory (give the directories under runs/ that a killed harness left)", dir)}
		}
	}
	err := providers.Cleanup(ctx, args, func(msg string) { fmt.Fprintln(stdout, msg) })
	for _, dir := range args {
		for _, name := range []string{rundir.HistoryJournal, rundir.TimelineJournal} {
			b, rerr := os.ReadFile(filepath.Join(dir, name))
			if rerr != nil {
				continue
			}
			fmt.Fprintf(stdout, "%s: the run did not finish; %s holds its record up to then (%d lines)\n",
				dir, name, bytes.Count(b, []byte("\n")))
		}
	}
	if err != nil {
		return fmt.Errorf("down: %w", err)
	}
	return nil
}
