package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is one run of a service: a child process of the harness here (child), a container
// on the docker provider (Network.Start). Signal returns ErrFinished once it has exited.
type Proc interface {
	PID() int // the host pid, 0 when it is not a process of this machine's namespace
	Running() bool
	Done() <-chan struct{} // closed once it has exited; Err then says how
	Err() error
	Signal(sig syscall.Signal) error
	// Stop asks it to terminate, waits up to grace, then kills it and waits. A cancelled ctx
	// skips the grace but never the kill. killed reports whether the grace ran out.
	Stop(ctx context.Context, grace time.Duration) (killed bool, err error)
}

// child is one run of a supervised command. Each child leads its own process group, so a
// signal reaches anything it forks, and dies with the harness (Pdeathsig), even when the
// harness is SIGKILLed and no deferred cleanup runs.
type child struct {
	cmd *exec.Cmd
	pid int
	log string

	mu      sync.Mutex
	reaping bool // set before Wait reaps: from then on the pid may be reused, never signal it

	done chan struct{} // closed once reaped; err is then set
	err  error         // from Wait: how it exited
}

// ErrFinished is returned when signalling a Proc that has already exited.
var ErrFinished = errors.New("process already exited")

func (c *child) PID() int              { return c.pid }
func (c *child) Done() <-chan struct{} { return c.done }
func (c *child) Err() error            { return c.err }

// startChild starts path with args, stdout and stderr appended to logPath, cwd dir, and
// env added to the inherited environment.
// StartChild starts svc as a child process of the harness in this network namespace, as
// the local provider does: for a Network.Start that runs some services elsewhere (kind
// runs the router here).
func StartChild(svc Service) (Proc, error) {
	return startChild(svc.Path, svc.Args, svc.Env, svc.Dir, svc.Log)
}

func startChild(path string, args, env []string, dir, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	// The child holds its own descriptor after Start; ours only writes the markers.
	defer logf.Close()
	fmt.Fprintf(logf, "--- geodrill %s: start %s %s\n", time.Now().Format(time.RFC3339Nano), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Pdeathsig fires when the thread that forked exits. The Go runtime only ends threads
		// whose goroutine locked them and exited; nothing here does that.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, log: logPath, done: make(chan struct{})}
	go c.wait()
	return c, nil
}

// wait learns of the exit without reaping (WNOWAIT) so that signals to the process group,
// sent under mu, can never hit a reused pid; then it reaps.
func (c *child) wait() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break // on any other error Wait below still reaps and reports
		}
	}
	c.mu.Lock()
	c.reaping = true
	c.mu.Unlock()
	c.err = c.cmd.Wait()
	if f, err := os.OpenFile(c.log, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "--- geodrill %s: pid %d exited: %v\n", time.Now().Format(time.RFC3339Nano), c.pid, exitText(c.err))
		f.Close()
	}
	close(c.done)
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Signal sends sig to the child's process group.
func (c *child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaping {
		return ErrFinished
	}
	if err := syscall.Kill(-c.pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return ErrFinished
		}
		return fmt.Errorf("signal %v to process group %d: %w", sig, c.pid, err)
	}
	return nil
}

// Running reports whether the child has not exited yet.
func (c *child) Running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the group and waits until the child is reaped or ctx ends.
func (c *child) kill(ctx context.Context) error {
	if err := c.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrFinished) {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pid %d not gone after SIGKILL: %w", c.pid, ctx.Err())
	}
}

// Stop asks the group to terminate (SIGTERM, plus SIGCONT so a SIGSTOPped process can act
// on it), waits up to grace, then SIGKILLs and waits for the reap. A cancelled ctx skips
// the grace but never the kill: a stopped harness must not leave processes behind.
// killed reports whether the grace ran out.
func (c *child) Stop(ctx context.Context, grace time.Duration) (killed bool, err error) {
	if !c.Running() {
		return false, nil
	}
	_ = c.Signal(syscall.SIGTERM)
	_ = c.Signal(syscall.SIGCONT)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return false, nil
	case <-t.C:
	case <-ctx.Done():
	}
	// SIGKILL cannot be ignored; only a process stuck in the kernel outlives it, so the
	// final wait has its own bound rather than ctx, which may already be done.
	killCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reapTimeout)
	defer cancel()
	return true, c.kill(killCtx)
}

// reapTimeout bounds the wait for a SIGKILLed process to be reaped.
const reapTimeout = 15 * time.Second

// LogTail returns the last lines of a log file, for error messages.
func LogTail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const max = 8 << 10
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = bytes.TrimRight(buf[:n], "\n")
	all := strings.Split(string(buf), "\n")
	if off > 0 && len(all) > 1 {
		all = all[1:] // the first line is probably cut
	}
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "\t" + strings.Join(all, "\n\t")
}
