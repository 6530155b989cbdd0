package etcdnode_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/geodrill/geodrill/refstack/etcdnode"
	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

// Three members, started the way the local cluster starts them, form one cluster: each
// answers /health and a write through one is read through another.
func TestThreeMemberCluster(t *testing.T) {
	names := []string{"a", "b", "c"}
	clients, peers := map[string]string{}, map[string]string{}
	var initial []string
	for _, n := range names {
		clients[n], peers[n] = testenv.FreeAddr(t), testenv.FreeAddr(t)
		initial = append(initial, n+"=http://"+peers[n])
	}
	t0 := time.Now()
	cancels := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, n := range names {
		cfg := etcdnode.Config{
			Name: n, DataDir: t.TempDir(), ListenClient: clients[n], ListenPeer: peers[n],
			InitialCluster: strings.Join(initial, ","), ClusterState: "new", LogLevel: "error",
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancels[n] = cancel
		wg.Go(func() { errs <- etcdnode.Run(ctx, cfg) })
	}
	// Registered before the clients' cleanups, so it runs after them (open client streams
	// hold up a member's graceful stop). Leaders go first so each hands leadership to a
	// live peer instead of waiting out a transfer to a member that is stopping too.
	t.Cleanup(func() {
		t1 := time.Now()
		for len(cancels) > 0 {
			stopLeaderOrAny(cancels, clients)
		}
		wg.Wait()
		t.Logf("stopped in %v", time.Since(t1))
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	})

	for _, n := range names {
		deadline := time.Now().Add(20 * time.Second)
		for !healthy(clients[n]) {
			if time.Now().After(deadline) {
				t.Fatalf("member %s not healthy after 20s", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("healthy after %v", time.Since(t0))
	cli := testenv.Client(t, clients["a"])
	if _, err := cli.Put(context.Background(), "/t/k", "v"); err != nil {
		t.Fatal(err)
	}
	resp, err := testenv.Client(t, clients["c"]).Get(context.Background(), "/t/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("read through c: %v %v", resp, err)
	}
	members, err := cli.MemberList(context.Background())
	if err != nil || len(members.Members) != 3 {
		t.Fatalf("member list: %v %v", members, err)
	}
}

func stopLeaderOrAny(cancels map[string]context.CancelFunc, clients map[string]string) {
	var eps []string
	for n := range cancels {
		eps = append(eps, clients[n])
	}
	victim := ""
	if cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: time.Second}); err == nil {
		for n := range cancels {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, clients[n])
			cancel()
			if err == nil && st.Leader == st.Header.MemberId {
				victim = n
			}
		}
		cli.Close()
	}
	if victim == "" {
		for n := range cancels {
			victim = n
			break
		}
	}
	cancels[victim]()
	delete(cancels, victim)
	time.Sleep(300 * time.Millisecond) // let the survivors settle on a leader
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"health":"true"`)
}

func TestValidate(t *testing.T) {
	good := etcdnode.Config{Name: "a", DataDir: "/tmp/x", ListenClient: "127.0.0.1:1", ListenPeer: "127.0.0.1:2",
		InitialCluster: "a=http://127.0.0.1:2", ClusterState: "new"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*etcdnode.Config)
		want string
	}{
		{func(c *etcdnode.Config) { c.Name = "" }, "name"},
		{func(c *etcdnode.Config) { c.DataDir = "" }, "data dir"},
		{func(c *etcdnode.Config) { c.ClusterState = "old" }, "new or existing"},
		{func(c *etcdnode.Config) { c.ListenClient = "http://127.0.0.1:1" }, "listen client"},
		{func(c *etcdnode.Config) { c.ListenPeer = "7" }, "listen peer"},
		{func(c *etcdnode.Config) { c.InitialCluster = "b=http://127.0.0.1:2" }, `does not name member "a"`},
	} {
		c := good
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to mention %q", c, err, tc.want)
		}
	}
}

// The stack's etcd patches the peer stream transport (third_party/etcd-client-pkg): a stream
// whose peer goes silent, as over a partition that drops packets, ends after the read
// timeout, so the member redials and the link works again as soon as the partition heals.
// Unpatched etcd v3.7.3 never applied the timeout and this read blocks until the peer
// speaks again.
func TestPeerStreamReadTimesOut(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a peer that never sends again
		})
		var srv *httptest.Server
		info := transport.TLSInfo{}
		if tlsOn {
			srv = httptest.NewTLSServer(silent)
			info.InsecureSkipVerify = true
		} else {
			srv = httptest.NewServer(silent)
		}
		const timeout = 300 * time.Millisecond
		tr, err := transport.NewTimeoutTransport(info, time.Second, timeout, timeout)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/raft/stream/message/x", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("tls=%v: %v", tlsOn, err)
		}
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := resp.Body.Read(make([]byte, 16))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "timeout") {
				t.Errorf("tls=%v: read from a silent peer ended with %v, want an i/o timeout", tlsOn, err)
			}
			t.Logf("tls=%v: silent peer noticed after %v", tlsOn, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * timeout):
			t.Errorf("tls=%v: read from a silent peer still blocked after %v: the stream transport applies no read timeout", tlsOn, 10*timeout)
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
		srv.CloseClientConnections()
		srv.Close()
	}
}
