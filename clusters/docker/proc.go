package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/geodrill/geodrill/clusters/local"
)

// startTimeout bounds starting one container.
const startTimeout = 60 * time.Second

// ctr is one service's container as the supervisor sees it (local.Proc): its output goes
// to the service's log file, and once it exits it is removed.
type ctr struct {
	cli  *client.Client
	id   string
	name string
	pid  int
	log  string

	mu       sync.Mutex
	finished bool
	paused   bool

	done chan struct{}
	err  error
}

var _ local.Proc = (*ctr)(nil)

// follow starts copying the container's output into logPath and watching for its exit.
func follow(cli *client.Client, id, name string, pid int, logPath string) (*ctr, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(logf, "--- geodrill %s: start container %s (%s, pid %d)\n", time.Now().Format(time.RFC3339Nano), name, id[:12], pid)
	c := &ctr{cli: cli, id: id, name: name, pid: pid, log: logPath, done: make(chan struct{})}
	ctx := context.Background()
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	copied := make(chan struct{})
	if err != nil {
		fmt.Fprintf(logf, "--- geodrill: cannot follow the container's output: %v\n", err)
		close(copied)
	} else {
		go func() {
			defer close(copied)
			_, _ = stdcopy.StdCopy(logf, logf, logs)
			logs.Close()
		}()
	}
	wait := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	go func() {
		var exit error
		select {
		case r := <-wait.Result:
			if r.StatusCode != 0 {
				exit = fmt.Errorf("exit status %d", r.StatusCode)
			}
			if r.Error != nil && r.Error.Message != "" {
				exit = errors.Join(exit, errors.New(r.Error.Message))
			}
		case err := <-wait.Error:
			exit = fmt.Errorf("waiting for the container: %w", err)
		}
		select { // the output's last lines, unless the stream hangs
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		fmt.Fprintf(logf, "--- geodrill %s: container %s exited: %v\n", time.Now().Format(time.RFC3339Nano), name, orOK(exit))
		logf.Close()
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
		cancel()
		c.mu.Lock()
		c.finished, c.err = true, exit
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

func orOK(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (c *ctr) PID() int              { return c.pid }
func (c *ctr) Done() <-chan struct{} { return c.done }
func (c *ctr) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *ctr) Running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Signal delivers sig to the container: SIGSTOP and SIGCONT as docker pause and unpause
// (the cgroup freezer, which stops every process of it), anything else by docker kill.
func (c *ctr) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return local.ErrFinished
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	switch sig {
	case syscall.SIGSTOP:
		_, err = c.cli.ContainerPause(ctx, c.id, client.ContainerPauseOptions{})
		if err == nil {
			c.paused = true
		}
	case syscall.SIGCONT:
		if !c.paused {
			return nil
		}
		_, err = c.cli.ContainerUnpause(ctx, c.id, client.ContainerUnpauseOptions{})
		if err == nil {
			c.paused = false
		}
	default:
		_, err = c.cli.ContainerKill(ctx, c.id, client.ContainerKillOptions{Signal: unix.SignalName(sig)})
	}
	if err != nil && (isNotFound(err) || strings.Contains(err.Error(), "is not running")) {
		return local.ErrFinished
	}
	if err != nil {
		return fmt.Errorf("signal %v to container %s: %w", sig, c.name, err)
	}
	return nil
}

// Stop asks the container to terminate (docker stop: SIGTERM, then SIGKILL after grace)
// and waits for it to be gone; a cancelled ctx kills at once.
func (c *ctr) Stop(ctx context.Context, grace time.Duration) (killed bool, err error) {
	if !c.Running() {
		return false, nil
	}
	_ = c.Signal(syscall.SIGCONT)
	secs := int(grace / time.Second)
	if ctx.Err() != nil {
		secs = 0
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+30*time.Second)
	defer cancel()
	start := time.Now()
	_, serr := c.cli.ContainerStop(sctx, c.id, client.ContainerStopOptions{Timeout: &secs})
	select {
	case <-c.done:
	case <-sctx.Done():
		return true, fmt.Errorf("container %s not gone after docker stop: %w", c.name, errors.Join(serr, sctx.Err()))
	}
	// docker stop does not say whether it had to kill; a stop that took the whole grace did.
	return time.Since(start) >= grace, nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "No such") || strings.Contains(err.Error(), "not found"))
}
