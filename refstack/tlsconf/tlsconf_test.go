package tlsconf

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"
)

// A server and a client built from one run's directory talk; a client of another run's CA
// is refused; and a certificate re-signed as expired is refused from the next handshake on,
// without restarting the server.
func TestMutualTLS(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := Generate(dir, []string{"a", Harness}, []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := Generate(other, []string{Harness}, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	srvCfg, err := Server(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOK(t, srvCfg)
	dial := func(cfg *tls.Config) error { return dialOK(addr, cfg) }
	good, err := Client(dir, Harness)
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(good); err != nil {
		t.Fatalf("a client of the run: %v", err)
	}
	stranger, err := Client(other, Harness)
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(stranger); err == nil {
		t.Error("a client of another CA was let in")
	}

	ca, caKey, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	time.Sleep(10 * time.Millisecond) // a new modification time
	if err := Sign(dir, "a", []string{"127.0.0.1"}, ca, caKey, past.Add(-time.Hour), past); err != nil {
		t.Fatal(err)
	}
	if err := dial(good); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("after region a's certificate expired: %v, want an expired-certificate error", err)
	}
}

// A server refuses a client whose certificate has expired; with the planted bug
// (IgnoringExpiry) it lets the same client in, and still refuses another CA's.
func TestExpiredClientCertificate(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := Generate(dir, []string{"a", "b"}, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := Generate(other, []string{"b"}, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	ca, caKey, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := Sign(dir, "b", []string{"127.0.0.1"}, ca, caKey, past.Add(-time.Hour), past); err != nil {
		t.Fatal(err)
	}
	expired, err := Client(dir, "b")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := Client(other, "b")
	if err != nil {
		t.Fatal(err)
	}
	stranger.RootCAs = expired.RootCAs // it trusts the server; the server must not trust it
	for _, bug := range []bool{false, true} {
		srv, err := Server(dir, "a")
		if err != nil {
			t.Fatal(err)
		}
		if bug {
			if srv, err = IgnoringExpiry(srv, dir); err != nil {
				t.Fatal(err)
			}
		}
		addr := serveOK(t, srv)
		if err := dialOK(addr, expired); (err == nil) != bug {
			t.Errorf("bug=%v: a client with an expired certificate: %v", bug, err)
		}
		if err := dialOK(addr, stranger); err == nil {
			t.Errorf("bug=%v: a client of another CA was let in", bug)
		}
	}
}

// serveOK accepts TLS connections with cfg and writes "ok" after each handshake.
func serveOK(t *testing.T, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dialOK connects with cfg and reads the server's "ok": nil when the server let it in.
func dialOK(addr string, cfg *tls.Config) error {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(b) != "ok" {
		return io.ErrUnexpectedEOF
	}
	return nil
}
