package router

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/bugs"
)

func TestUnsafeStaleOwner(t *testing.T) {
	a := api.Owner{Region: "a", Epoch: 1, URL: "http://a"}
	b := api.Owner{Region: "b", Epoch: 2, URL: "http://b"}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	off := &Router{log: quiet}
	if o, ok := off.unsafeStaleOwner("x", b, true); !ok || o != b {
		t.Fatalf("switch off: routed to %+v, want the current owner", o)
	}

	hold := 200 * time.Millisecond
	set, err := bugs.Parse("router-ignores-epochs=" + hold.String())
	if err != nil {
		t.Fatal(err)
	}
	rt := &Router{cfg: Config{Bugs: set}, log: quiet}
	if o, _ := rt.unsafeStaleOwner("x", a, true); o != a {
		t.Fatalf("first lookup routed to %+v", o)
	}
	// Epoch 2 took over (and in between the agent had no owner): the switch keeps routing to
	// epoch 1 until the hold has passed since it first saw the change.
	if o, ok := rt.unsafeStaleOwner("x", api.Owner{}, false); !ok || o != a {
		t.Fatalf("no owner: routed to %+v %v, want the stale owner a", o, ok)
	}
	if o, _ := rt.unsafeStaleOwner("x", b, true); o != a {
		t.Fatalf("newer epoch within the hold: routed to %+v, want the stale owner a", o)
	}
	time.Sleep(hold + 50*time.Millisecond)
	if o, _ := rt.unsafeStaleOwner("x", b, true); o != b {
		t.Fatalf("after the hold: routed to %+v, want b", o)
	}
	if o, _ := rt.unsafeStaleOwner("x", b, true); o != b {
		t.Fatalf("steady: routed to %+v, want b", o)
	}
}
