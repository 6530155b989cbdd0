package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/moby/client"
)

// removeLabelled force-removes every container of cluster tag.
func removeLabelled(ctx context.Context, cli *client.Client, tag string) error {
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelCluster+"="+tag)})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", tag, err)
	}
	var errs []error
	for _, c := range list.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// alive says whether pid is a running process.
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// Leftover is what one cluster left: its containers and networks.
type Leftover struct {
	Tag        string
	PID        int // the harness that made them
	Containers []string
	Networks   []string
}

// Leftovers lists every docker cluster's containers and networks on this machine, live
// ones included (PID running).
func Leftovers(ctx context.Context) (out []Leftover, err error) {
	err = withClient(ctx, func(cli *client.Client) error {
		out, err = leftovers(ctx, cli)
		return err
	})
	return out, err
}

// withClient runs fn with a client of the Docker daemon, closed after.
func withClient(ctx context.Context, fn func(*client.Client) error) error {
	cli, err := dial(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return fn(cli)
}

func leftovers(ctx context.Context, cli *client.Client) ([]Leftover, error) {
	byTag := map[string]*Leftover{}
	get := func(labels map[string]string) *Leftover {
		tag := labels[LabelCluster]
		l := byTag[tag]
		if l == nil {
			pid, _ := strconv.Atoi(labels[LabelPID])
			l = &Leftover{Tag: tag, PID: pid}
			byTag[tag] = l
		}
		return l
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelCluster)})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		l := get(c.Labels)
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		l.Containers = append(l.Containers, name)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", LabelCluster)})
	if err != nil {
		return nil, err
	}
	for _, n := range ns.Items {
		l := get(n.Labels)
		l.Networks = append(l.Networks, n.Name)
	}
	var out []Leftover
	for _, l := range byTag {
		sort.Strings(l.Containers)
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out, nil
}

// Cleanup removes the containers and networks of every docker cluster whose harness is
// gone (`harness down` after a SIGKILL): containers, unlike the local provider's processes,
// do not die with the harness. A live harness's cluster is left alone. The regions'
// namespace attachments are the netns provider's names, empty once the containers are
// gone, and its cleanup (which providers.Cleanup runs after this one) removes them. It
// returns what it removed.
func Cleanup(ctx context.Context) (removed []string, err error) {
	err = withClient(ctx, func(cli *client.Client) error {
		ls, err := leftovers(ctx, cli)
		if err != nil {
			return err
		}
		var errs []error
		for _, l := range ls {
			if l.PID != os.Getpid() && alive(l.PID) {
				continue
			}
			if err := removeLabelled(ctx, cli, l.Tag); err != nil {
				errs = append(errs, err)
			} else {
				removed = append(removed, l.Containers...)
			}
			for _, n := range l.Networks {
				if _, err := cli.NetworkRemove(ctx, n, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, n)
			}
		}
		return errors.Join(errs...)
	})
	return removed, err
}

// Images lists the stack images this provider built (kept between runs as a cache).
func Images(ctx context.Context) (refs []string, err error) {
	err = withClient(ctx, func(cli *client.Client) error {
		refs, err = images(ctx, cli)
		return err
	})
	return refs, err
}

func images(ctx context.Context, cli *client.Client) ([]string, error) {
	list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelImage)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, im := range list.Items {
		out = append(out, im.RepoTags...)
	}
	sort.Strings(out)
	return out, nil
}

// RemoveImages removes the stack images this provider built.
func RemoveImages(ctx context.Context) (refs []string, err error) {
	err = withClient(ctx, func(cli *client.Client) error {
		if refs, err = images(ctx, cli); err != nil {
			return err
		}
		var errs []error
		for _, ref := range refs {
			if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	return refs, err
}
