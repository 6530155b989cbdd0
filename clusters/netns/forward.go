package netns

import (
	"context"
	"os/exec"
	"strings"
)

// A Docker engine on the machine sets iptables' FORWARD policy to DROP and has the kernel
// pass bridged frames through iptables (br_netfilter, bridge-nf-call-iptables=1): frames
// between two regions on this provider's bridge are then dropped, and etcd cannot form a
// quorum. (Found when the docker provider's engine came up beside the netns tests.) An
// accept for frames that stay on the bridge, marked with the bridge's name, lets them pass;
// it goes with the bridge. nftables rules of our own cannot do it: a drop in any base chain
// is final.

// forwardComment marks the accept rule of bridge br.
func forwardComment(br string) string { return "geodrill-" + br }

// forwardRule is the iptables rule spec (after -A/-I/-D FORWARD) for bridge br.
func forwardRule(br string) []string {
	return []string{"-i", br, "-o", br, "-m", "comment", "--comment", forwardComment(br), "-j", "ACCEPT"}
}

// allowForward inserts the accept for br when iptables is there (no iptables: nothing
// filters bridged frames with it).
func allowForward(ctx context.Context, br string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	_, err := run(ctx, "iptables", append([]string{"-w", "-I", "FORWARD"}, forwardRule(br)...)...)
	return err
}

// dropForward removes br's accept; a rule already gone is not an error.
func dropForward(ctx context.Context, br string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	if _, err := run(ctx, "iptables", append([]string{"-w", "-D", "FORWARD"}, forwardRule(br)...)...); err != nil &&
		!strings.Contains(err.Error(), "does a matching rule exist") && !strings.Contains(err.Error(), "No chain") &&
		!strings.Contains(err.Error(), "Bad rule") {
		return err
	}
	return nil
}

// forwardLeftovers lists the bridges whose accept rule is still in FORWARD.
func forwardLeftovers(ctx context.Context) []string {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	out, err := run(ctx, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return nil
	}
	var brs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--comment" && strings.HasPrefix(f[i+1], "geodrill-"+LinkPrefix) {
				brs = append(brs, strings.TrimPrefix(f[i+1], "geodrill-"))
			}
		}
	}
	return brs
}
