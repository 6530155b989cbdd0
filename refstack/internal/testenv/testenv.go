// Package testenv starts the real components the refstack tests run against: an embedded
// etcd member in the test process and MinIO server child processes.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/etcdnode"
)

// MinIO credentials every test server uses.
const (
	MinioUser     = "geodrill"
	MinioPassword = "geodrill-secret"
)

// BinDir is where the test binaries live: $GEODRILL_BIN, else <repo root>/bin.
func BinDir() (string, error) {
	if d := os.Getenv("GEODRILL_BIN"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// MinioBinary returns the MinIO server path, or skips the test (fails it when
// GEODRILL_REQUIRE_INTEGRATION=1) if it is missing.
func MinioBinary(t testing.TB) string {
	t.Helper()
	dir, err := BinDir()
	path := filepath.Join(dir, "minio")
	if err == nil {
		if _, err = os.Stat(path); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("minio server binary not found (%v); run make test, which builds bin/minio (or set GEODRILL_BIN)", err)
	if os.Getenv("GEODRILL_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Etcd starts a single-member embedded etcd in a temp dir, waits until it serves, and
// closes it at cleanup. It returns the client endpoint host:port.
func Etcd(t testing.TB) string {
	t.Helper()
	client, peer := FreeAddr(t), FreeAddr(t)
	n, err := etcdnode.Start(etcdnode.Config{
		Name:           "t",
		DataDir:        t.TempDir(),
		ListenClient:   client,
		ListenPeer:     peer,
		InitialCluster: "t=http://" + peer,
		ClusterState:   "new",
		LogLevel:       "error",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	select {
	case <-n.Ready():
	case err := <-n.Err():
		t.Fatalf("etcd: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("etcd not ready after 20s")
	}
	return client
}

// Client dials an etcd endpoint and closes the client at cleanup.
func Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Minio is a MinIO server child process.
type Minio struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	sharedMu    sync.Mutex
	sharedMinio = map[string]*Minio{}
)

// SharedMinio returns the MinIO server named name, starting it on first use. Tests that
// share servers keep apart by using their own bucket. StopShared kills them all.
func SharedMinio(t testing.TB, name string) *Minio {
	t.Helper()
	bin := MinioBinary(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if m, ok := sharedMinio[name]; ok {
		return m
	}
	dir, err := os.MkdirTemp("", "geodrill-minio-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	m, err := startMinio(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	sharedMinio[name] = m
	go func() { <-m.done; os.RemoveAll(dir) }()
	return m
}

// StopShared kills every shared MinIO server; call it from TestMain after m.Run.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for name, m := range sharedMinio {
		m.Kill()
		delete(sharedMinio, name)
	}
}

// StartMinio starts a MinIO server of the test's own and kills it at cleanup.
func StartMinio(t testing.TB) *Minio {
	t.Helper()
	m, err := startMinio(MinioBinary(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	return m
}

func startMinio(bin, dir string) (*Minio, error) {
	for attempt := 0; ; attempt++ {
		m, err := tryMinio(bin, dir)
		if err == nil || attempt == 2 {
			return m, err
		}
	}
}

func tryMinio(bin, dir string) (*Minio, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	console, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	consoleAddr := console.Addr().String()
	console.Close()
	var out strings.Builder
	cmd := exec.Command(bin, "server", "--address", addr, "--console-address", consoleAddr, "--quiet", dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+MinioUser, "MINIO_ROOT_PASSWORD="+MinioPassword)
	cmd.Stdout = &syncWriter{b: &out}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	m := &Minio{Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return nil, fmt.Errorf("minio exited before it was ready: %s", cmd.Stdout.(*syncWriter).String())
		default:
		}
		if live(addr) {
			return m, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Kill()
	return nil, fmt.Errorf("minio on %s not live after 30s: %s", addr, cmd.Stdout.(*syncWriter).String())
}

func live(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/minio/health/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill stops the server at once and waits for it to exit.
func (m *Minio) Kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Bucket is a bucket name of the test's own, so tests can share MinIO servers.
func Bucket(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("t-")
	for _, r := range strings.ToLower(t.Name()) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if len(name) > 50 {
		name = name[:50]
	}
	return fmt.Sprintf("%s-%d", strings.TrimRight(name, "-"), time.Now().UnixNano()%1_000_000)
}
