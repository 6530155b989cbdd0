package clusters_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/clusters"
)

// recorder is a Cluster that records calls; With's contract is about call order, not
// about any provider.
type recorder struct {
	calls   []string
	upErr   error
	downErr error // the context's state while Down ran
}

func (r *recorder) Up(context.Context) error { r.calls = append(r.calls, "up"); return r.upErr }
func (r *recorder) Endpoints() clusters.Endpoints {
	return clusters.Endpoints{}
}
func (r *recorder) Down(ctx context.Context) error {
	r.calls = append(r.calls, "down")
	r.downErr = ctx.Err()
	return nil
}

func TestWithAlwaysBringsDown(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		upErr   error
		fn      func(ctx context.Context) error
		cancel  bool
		wantErr error
		panics  bool
	}{
		{name: "fn returns", fn: func(context.Context) error { return nil }},
		{name: "fn fails", fn: func(context.Context) error { return boom }, wantErr: boom},
		{name: "up fails", upErr: boom, fn: func(context.Context) error { t.Error("fn ran after a failed Up"); return nil }, wantErr: boom},
		{name: "fn panics", fn: func(context.Context) error { panic("on purpose") }, panics: true},
		{name: "ctx cancelled", cancel: true, fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{upErr: tt.upErr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(10*time.Millisecond, cancel)
			}
			var err error
			recovered := func() (p any) {
				defer func() { p = recover() }()
				err = clusters.With(ctx, r, tt.fn)
				return nil
			}()
			if (recovered != nil) != tt.panics {
				t.Fatalf("panic = %v, want panic %v", recovered, tt.panics)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := strings.Join(r.calls, ","); got != "up,down" {
				t.Fatalf("calls %s, want up,down", got)
			}
			if r.downErr != nil {
				t.Fatalf("Down got a dead context: %v", r.downErr)
			}
		})
	}
}

func TestHealthURLs(t *testing.T) {
	eps := clusters.Endpoints{Regions: map[string]clusters.RegionEndpoints{
		"a": {Etcd: "127.0.0.1:1", MinIO: "127.0.0.1:2", Host: "http://127.0.0.1:3"}}}
	want := "http://127.0.0.1:1/health http://127.0.0.1:2/minio/health/live http://127.0.0.1:3/healthz"
	if got := strings.Join(eps.HealthURLs("a"), " "); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	eps.TLS = &clusters.TLSFiles{}
	eps.Regions["a"] = clusters.RegionEndpoints{Etcd: "127.0.0.1:1", MinIO: "127.0.0.1:2", Host: "https://127.0.0.1:3"}
	want = "https://127.0.0.1:1/health https://127.0.0.1:2/minio/health/live https://127.0.0.1:3/healthz"
	if got := strings.Join(eps.HealthURLs("a"), " "); got != want {
		t.Fatalf("under TLS: got %s, want %s", got, want)
	}
}
