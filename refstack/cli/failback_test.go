package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/geodrill/geodrill/refstack/internal/testenv"
)

func TestFailbackCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"failback"}, ExitUsage, "--etcd is required"},
		{[]string{"failback", "--etcd", "127.0.0.1:1"}, ExitUsage, "--region is required"},
		{[]string{"failback", "--etcd", "nohost", "--region", "a"}, ExitUsage, "not host:port"},
		{[]string{"failback", "--etcd", "127.0.0.1:1", "--region", "a", "--max-agents", "-1"}, ExitUsage, "--max-agents -1"},
	} {
		var stderr bytes.Buffer
		if code := Main(context.Background(), tc.args, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("%v: exit %d, %q; want %d saying %q", tc.args, code, stderr.String(), tc.code, tc.says)
		}
	}

	// A real etcd without a host in region a: fail-back there is refused, not done.
	etcd := testenv.Etcd(t)
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"failback", "--etcd", etcd, "--region", "a"}, &stderr); code != ExitFailure ||
		!strings.Contains(stderr.String(), "no live agent host") {
		t.Errorf("fail-back to a region without host: exit %d, %q", code, stderr.String())
	}
}
