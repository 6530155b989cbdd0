package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/geodrill/geodrill/internal/testbin"
)

// The adapter is not ready while the Sentinels have not found each other and the
// replicas (a region killed then is never failed over: CI saw `harness conform` kill the
// primary 2s after start and no Sentinel ever reached o_down); once ready, every Sentinel
// knows the others and the replicas, and killing the primary is failed over.
func TestReadyOnlyOnceTheSentinelsCanFailOver(t *testing.T) {
	testbin.HATools(t, "redis-server", "redis-sentinel")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	regions := []string{"a", "b", "c"}
	cfg := Config{Master: "m", Sentinels: map[string]string{}, Redis: map[string]string{}}
	ports := freePorts(t, 2*len(regions))
	for i, r := range regions {
		cfg.Redis[r] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		cfg.Sentinels[r] = fmt.Sprintf("127.0.0.1:%d", ports[len(regions)+i])
	}
	procs := map[string]*exec.Cmd{}
	for i, r := range regions {
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir %s\n", ports[i], t.TempDir())
		if i > 0 {
			conf += fmt.Sprintf("replicaof 127.0.0.1 %d\n", ports[0])
		}
		procs["redis-"+r] = start(t, "redis-server", ports[i], conf)
	}
	for i := range regions {
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel announce-ip 127.0.0.1\n"+
			"sentinel monitor m 127.0.0.1 %d 2\nsentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 4000\n",
			ports[len(regions)+i], t.TempDir(), ports[0])
		start(t, "redis-sentinel", ports[len(regions)+i], conf)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx)

	// Sentinels say hello every 2s: half a second in, none can know the others.
	time.Sleep(500 * time.Millisecond)
	if a.Ready() == nil {
		t.Fatal("ready half a second after the Sentinels started")
	}
	for a.Ready() != nil {
		if ctx.Err() != nil {
			t.Fatal("never ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range a.sentinels {
		m, err := s.Master(ctx, cfg.Master).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m["num-other-sentinels"] != "2" || m["num-slaves"] != "2" {
			t.Errorf("ready, but a Sentinel knows %s other Sentinels and %s replicas", m["num-other-sentinels"], m["num-slaves"])
		}
	}
	if s, ok := a.Serving(); !ok || s.Region != "a" || s.Epoch != 1 {
		t.Fatalf("serving %+v, %v; want region a at epoch 1", s, ok)
	}

	procs["redis-a"].Process.Kill()
	for {
		if s, ok := a.Serving(); ok && s.Region != "a" {
			if s.Epoch < 2 {
				t.Errorf("a failover kept epoch %d", s.Epoch)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatal("the primary's death was never failed over")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePorts(t *testing.T, n int) []int {
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// start runs tool on conf (written to a file: Sentinel rewrites its own) until the test ends.
func start(t *testing.T, tool string, port int, conf string) *exec.Cmd {
	t.Helper()
	path := filepath.Join(t.TempDir(), tool+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Listening before the test goes on.
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listened on %d", tool, port)
	return nil
}
