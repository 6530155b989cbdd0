package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/geodrill/geodrill/clusters/docker"
	"github.com/geodrill/geodrill/clusters/providers"
	"github.com/geodrill/geodrill/rundir"
)

// cmdDown removes what a killed harness left behind: the docker provider's containers,
// networks and namespace attachments, the netns provider's namespaces, bridges and veths
// (their nftables rules live inside the namespaces and go with them), and, for each RUN_DIR
// given, the processes started for it. --images lists the docker provider's cached images;
// --remove-images removes them.
func cmdDown(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	listImages := fs.Bool("images", false, "")
	removeImages := fs.Bool("remove-images", false, "")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	for _, dir := range args {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return inputError{fmt.Sprintf("down %s: not a run directory (give the directories under runs/ that a killed harness left)", dir)}
		}
	}
	err = providers.Cleanup(ctx, args, func(msg string) { fmt.Fprintln(stdout, msg) })
	if *listImages || *removeImages {
		err = errors.Join(err, downImages(ctx, *removeImages, stdout))
	}
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

// downImages lists (or removes) the images the docker provider built: a cache, kept
// between runs so that the next one does not rebuild.
func downImages(ctx context.Context, remove bool, stdout io.Writer) error {
	if err := docker.Available(ctx); err != nil {
		return err
	}
	if remove {
		refs, err := docker.RemoveImages(ctx)
		fmt.Fprintf(stdout, "removed %d docker images %v\n", len(refs), refs)
		return err
	}
	refs, err := docker.Images(ctx)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		fmt.Fprintln(stdout, "no geodrill docker images")
	}
	for _, r := range refs {
		fmt.Fprintf(stdout, "image %s (cached; harness down --remove-images removes it)\n", r)
	}
	return nil
}
