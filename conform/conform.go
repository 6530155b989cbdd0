package conform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/geodrill/geodrill/clusters"
	"github.com/geodrill/geodrill/refstack/api"
)

// Status is how a system met one part.
type Status string

const (
	OK      Status = "ok"
	Missing Status = "missing" // the system does not serve it
	Wrong   Status = "wrong"   // it serves it, incorrectly
	Skipped Status = "skipped" // not checked (why in Detail)
)

// Finding is what the check found for one part.
type Finding struct {
	Part   Part   `json:"part"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report is every finding of one check, in the contract's order.
type Report struct {
	Target   string    `json:"target"`
	Findings []Finding `json:"findings"`
}

// Passed says whether every required part is met (optional ones may be missing: the
// checkers that need them then say they cannot judge).
func (r Report) Passed() bool {
	for _, f := range r.Findings {
		if f.Status == Wrong || f.Status == Missing && f.Part.Need == Required {
			return false
		}
	}
	return true
}

// Text is the report as people read it: one line per part, then what follows.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contract check of %s\n", r.Target)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(string(f.Status)), f.Part.Name, f.Part.Need, f.Detail)
	}
	tw.Flush()
	for _, f := range r.Findings {
		switch {
		case f.Status == Wrong:
			fmt.Fprintf(&b, "\n%s is wrong: %s\n  the contract: %s\n", f.Part.Name, f.Detail, f.Part.What)
		case f.Status == Missing && f.Part.Need == Required:
			fmt.Fprintf(&b, "\n%s is missing (required): %s\n  the contract: %s\n", f.Part.Name, f.Detail, f.Part.What)
		case f.Status == Missing:
			fmt.Fprintf(&b, "\n%s is not served (optional; needed by %s): %s\n",
				f.Part.Name, strings.Join(f.Part.NeededBy, ", "), f.Part.Without)
		}
	}
	skipped := 0
	for _, f := range r.Findings {
		if f.Status == Skipped && f.Part.Need == Required {
			skipped++
		}
	}
	switch {
	case r.Passed() && skipped > 0:
		fmt.Fprintf(&b, "\nverdict: CONFORMS in what was checked (%d required parts not checked)\n", skipped)
	case r.Passed():
		b.WriteString("\nverdict: CONFORMS\n")
	default:
		b.WriteString("\nverdict: DOES NOT CONFORM\n")
	}
	return b.String()
}

// Target is a running system as the check drives it.
type Target struct {
	// URL is where clients send operations (the router, or an adapter).
	URL string
	// Health are the health URLs; empty: URL + "/healthz".
	Health []string
	// Client sends every request (with the system's TLS configuration).
	Client *http.Client
	// Agents are the agents to use (at least one).
	Agents []string
}

// Outage kills and restores one region of a system the harness started.
type Outage interface {
	KillRegion(ctx context.Context, region string) error
	RestoreRegion(ctx context.Context, region string) error
}

// checker is one check in progress: the target, a run-unique key prefix, and what the 200
// replies said about the region and epoch.
type checker struct {
	t      Target
	prefix string
	n      int

	oks, withRegion, withEpoch int
	found                      map[string]Status
	detail                     map[string]string
}

// reply is one answer.
type reply struct {
	status int
	resp   api.Response
	region string
	epoch  int64
	err    error
}

func (c *checker) key() string {
	c.n++
	return fmt.Sprintf("%s-%d", c.prefix, c.n)
}

func (c *checker) do(ctx context.Context, method, path string, body []byte) reply {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.t.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	res, err := c.t.Client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	r := reply{status: res.StatusCode}
	if res.StatusCode != http.StatusOK {
		return r
	}
	if err := json.Unmarshal(b, &r.resp); err != nil {
		r.err = fmt.Errorf("200 without a JSON body (%q): %w", truncate(b), err)
		c.set(PartOutcomes, Wrong, fmt.Sprintf("%s %s answered 200 without the JSON body: %v", method, path, r.err))
		return r
	}
	r.region, r.epoch = r.resp.Region, r.resp.Epoch
	if r.region == "" {
		r.region = res.Header.Get(api.HeaderRegion)
	}
	if r.epoch == 0 {
		r.epoch, _ = strconv.ParseInt(res.Header.Get(api.HeaderEpoch), 10, 64)
	}
	c.oks++
	if r.region != "" {
		c.withRegion++
	}
	if r.epoch != 0 {
		c.withEpoch++
	}
	return r
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func (c *checker) put(ctx context.Context, agent, key, value string) reply {
	return c.do(ctx, http.MethodPut, "/agents/"+agent+"/kv/"+key, []byte(value))
}

func (c *checker) get(ctx context.Context, agent, key string) reply {
	return c.do(ctx, http.MethodGet, "/agents/"+agent+"/kv/"+key, nil)
}

func (c *checker) cas(ctx context.Context, agent, key, expect, value string) reply {
	b, _ := json.Marshal(api.CASRequest{Expect: expect, Value: value})
	return c.do(ctx, http.MethodPost, "/agents/"+agent+"/cas/"+key, b)
}

// set records a finding; a worse one is kept over a better one.
func (c *checker) set(part string, s Status, detail string) {
	rank := map[Status]int{"": 0, Skipped: 1, OK: 2, Missing: 3, Wrong: 4}
	if rank[s] < rank[c.found[part]] {
		return
	}
	c.found[part], c.detail[part] = s, detail
}

func (r reply) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("status %d", r.status)
}

// Check runs the fault-free checks against t and, when o is not nil, one outage of the
// region that serves t.Agents[0] (regions lists the system's regions; budget bounds the
// wait for recovery). Without o the outage parts are skipped and say why.
func Check(ctx context.Context, t Target, o Outage, regions []string, budget time.Duration) (Report, error) {
	if len(t.Agents) == 0 {
		return Report{}, fmt.Errorf("conform: no agents to use")
	}
	if t.Client == nil {
		t.Client = &http.Client{Transport: &http.Transport{Proxy: nil}}
	}
	nonce := make([]byte, 4)
	if _, err := rand.Read(nonce); err != nil {
		return Report{}, err
	}
	c := &checker{t: t, prefix: "conform-" + hex.EncodeToString(nonce), found: map[string]Status{}, detail: map[string]string{}}
	c.faultFree(ctx)
	if o == nil {
		for _, p := range []string{PartRecovery, PartAckedRead} {
			c.set(p, Skipped, "the harness did not start this system, so it cannot kill a region (harness conform without --url does)")
		}
	} else if err := c.outage(ctx, o, regions, budget); err != nil {
		return Report{}, err
	}
	if ctx.Err() != nil {
		return Report{}, ctx.Err()
	}
	c.headers()
	c.set(PartCheckpoints, Skipped, "judged by a drill (integrity, convergence), not here")
	rep := Report{Target: t.URL}
	for _, p := range Parts {
		s, d := c.found[p.Name], c.detail[p.Name]
		if s == "" {
			s, d = Skipped, "not reached"
		}
		rep.Findings = append(rep.Findings, Finding{Part: p, Status: s, Detail: d})
	}
	return rep, nil
}

// faultFree checks health, writes and reads, a key never written, and cas.
func (c *checker) faultFree(ctx context.Context) {
	health := append([]string{strings.TrimRight(c.t.URL, "/") + "/healthz"}, c.t.Health...)
	c.set(PartHealth, OK, fmt.Sprintf("%d health checks pass", len(health)))
	for _, u := range health {
		st, err := c.status(ctx, u)
		switch {
		case err != nil:
			c.set(PartHealth, Wrong, fmt.Sprintf("GET %s: %v", u, err))
		case st == http.StatusNotFound:
			c.set(PartHealth, Missing, fmt.Sprintf("GET %s: 404", u))
		case st != http.StatusOK:
			c.set(PartHealth, Wrong, fmt.Sprintf("GET %s: %d while the system serves", u, st))
		}
	}

	// Writes to every agent, each read back.
	c.set(PartPutGet, OK, "")
	written := 0
	for i := range 3 * len(c.t.Agents) {
		agent := c.t.Agents[i%len(c.t.Agents)]
		key := c.key()
		value := fmt.Sprintf("v%d-%s", i, key)
		if r := c.put(ctx, agent, key, value); r.status != http.StatusOK {
			c.set(PartPutGet, Wrong, fmt.Sprintf("PUT %s/%s on a healthy system: %s", agent, key, r))
			continue
		}
		r := c.get(ctx, agent, key)
		switch {
		case r.status != http.StatusOK:
			c.set(PartPutGet, Wrong, fmt.Sprintf("GET %s/%s after its PUT: %s", agent, key, r))
		case !r.resp.Found || r.resp.Value != value:
			c.set(PartPutGet, Wrong, fmt.Sprintf("PUT %s/%s %q answered 200, then GET read found=%v value=%q: "+
				"a 200 for a write the system did not make", agent, key, value, r.resp.Found, r.resp.Value))
		default:
			written++
		}
	}
	if c.found[PartPutGet] == OK {
		c.detail[PartPutGet] = fmt.Sprintf("%d writes over %d agents, each read back", written, len(c.t.Agents))
	}

	agent := c.t.Agents[0]
	key := c.key()
	switch r := c.get(ctx, agent, key); {
	case r.status != http.StatusOK:
		c.set(PartMissing, Wrong, fmt.Sprintf("GET of a key never written: %s, want 200 with found false", r))
	case r.resp.Found:
		c.set(PartMissing, Wrong, fmt.Sprintf("GET of a key never written: found true, value %q", r.resp.Value))
	default:
		c.set(PartMissing, OK, "200, found false")
	}

	// A key never written counts as "": cas from "" swaps.
	key = c.key()
	switch r := c.cas(ctx, agent, key, "", "first"); {
	case r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed:
		c.set(PartCAS, Missing, fmt.Sprintf("POST .../cas/%s: %d", key, r.status))
		return
	case r.status != http.StatusOK || !r.resp.Swapped:
		c.set(PartCAS, Wrong, fmt.Sprintf("cas from \"\" on a key never written: %s swapped=%v, want 200 swapped "+
			"(a key never written counts as \"\")", r, r.resp.Swapped))
	}

	key = c.key()
	if r := c.put(ctx, agent, key, "one"); r.status != http.StatusOK {
		c.set(PartCAS, Skipped, "its PUT failed: "+r.String())
		return
	}
	switch r := c.cas(ctx, agent, key, "not-"+key, "two"); {
	case r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed:
		c.set(PartCAS, Missing, fmt.Sprintf("POST .../cas/%s: %d", key, r.status))
		return
	case r.status != http.StatusOK:
		c.set(PartCAS, Wrong, fmt.Sprintf("cas with a wrong expect: %s, want 200 with swapped false", r))
	case r.resp.Swapped:
		c.set(PartCAS, Wrong, "cas with a wrong expect swapped")
	case !r.resp.Found || r.resp.Value != "one":
		c.set(PartCAS, Wrong, fmt.Sprintf("a failed cas said found=%v value=%q, want the current value %q", r.resp.Found, r.resp.Value, "one"))
	}
	switch r := c.cas(ctx, agent, key, "one", "two"); {
	case r.status != http.StatusOK || !r.resp.Swapped:
		c.set(PartCAS, Wrong, fmt.Sprintf("cas with the right expect: %s swapped=%v, want 200 swapped", r, r.resp.Swapped))
	default:
		if g := c.get(ctx, agent, key); g.resp.Value != "two" {
			c.set(PartCAS, Wrong, fmt.Sprintf("after a swap GET read %q (%s), want %q", g.resp.Value, g, "two"))
		}
	}
	c.set(PartCAS, OK, "a wrong expect leaves the value and reports it; the right one swaps")
}

// status runs one health check (clusters.HealthStatus: tcp:// URLs are dialled).
func (c *checker) status(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return clusters.HealthStatus(ctx, c.t.Client, url)
}

// headers judges the region and epoch parts from every 200 seen.
func (c *checker) headers() {
	for _, h := range []struct {
		part string
		n    int
	}{{PartRegion, c.withRegion}, {PartEpoch, c.withEpoch}} {
		switch {
		case c.oks == 0:
			c.set(h.part, Skipped, "no 200 to look at")
		case h.n == 0:
			c.set(h.part, Missing, fmt.Sprintf("none of %d replies carried it", c.oks))
		case h.n < c.oks:
			c.set(h.part, Wrong, fmt.Sprintf("%d of %d replies carried it", h.n, c.oks))
		default:
			c.set(h.part, OK, fmt.Sprintf("every one of %d replies", c.oks))
		}
	}
	if c.found[PartOutcomes] == "" {
		c.set(PartOutcomes, OK, "every 200 had the JSON body; the outcomes of failed requests are judged by a drill's history")
	}
}

// outage kills the region serving the first agent, waits until writes are answered
// again, checks that what is answered 200 afterwards is read back, and restores it.
func (c *checker) outage(ctx context.Context, o Outage, regions []string, budget time.Duration) error {
	agent := c.t.Agents[0]
	before := c.put(ctx, agent, c.key(), "before")
	victim := before.region
	if victim == "" {
		if len(regions) == 0 {
			c.set(PartRecovery, Skipped, "no region to kill: replies name none and the system's regions are not known")
			c.set(PartAckedRead, Skipped, "no outage")
			return nil
		}
		victim = regions[0]
	}
	type acked struct{ agent, key, value string }
	var prior []acked
	for i := range 2 * len(c.t.Agents) {
		a, k := c.t.Agents[i%len(c.t.Agents)], c.key()
		if r := c.put(ctx, a, k, "pre-"+k); r.status == http.StatusOK {
			prior = append(prior, acked{a, k, "pre-" + k})
		}
	}
	if err := o.KillRegion(ctx, victim); err != nil {
		return fmt.Errorf("conform: kill region %s: %w", victim, err)
	}
	killed := time.Now()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		_ = o.RestoreRegion(rctx, victim)
	}()
	codes := map[string]int{}
	var after reply
	for {
		after = c.put(ctx, agent, c.key(), "after")
		if after.status == http.StatusOK {
			break
		}
		codes[after.String()]++
		if time.Since(killed) > budget || ctx.Err() != nil {
			c.set(PartRecovery, Wrong, fmt.Sprintf("no write answered 200 within %v of killing region %s (answers: %s)",
				budget, victim, countText(codes)))
			c.set(PartAckedRead, Skipped, "the system did not recover")
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(killed)
	c.set(PartRecovery, OK, fmt.Sprintf("region %s killed; writes answered 200 again after %.2fs (meanwhile: %s)",
		victim, took.Seconds(), countText(codes)))
	if after.region == victim {
		c.set(PartRegion, Wrong, fmt.Sprintf("a reply after region %s was killed says %s served it", victim, victim))
	}
	if after.region != "" && after.region != victim && before.epoch != 0 && after.epoch <= before.epoch {
		c.set(PartEpoch, Wrong, fmt.Sprintf("%s moved from %s to %s with epoch %d → %d: a takeover's epoch must grow",
			agent, before.region, after.region, before.epoch, after.epoch))
	}

	// What is answered 200 now is there; what was answered 200 before may be lost (RPO).
	bad := 0
	var first string
	for i := range 2 * len(c.t.Agents) {
		a, k := c.t.Agents[i%len(c.t.Agents)], c.key()
		if r := c.put(ctx, a, k, "post-"+k); r.status != http.StatusOK {
			continue
		}
		if g := c.get(ctx, a, k); g.status == http.StatusOK && (!g.resp.Found || g.resp.Value != "post-"+k) {
			bad++
			if first == "" {
				first = fmt.Sprintf("PUT %s/%s answered 200, GET read found=%v value=%q", a, k, g.resp.Found, g.resp.Value)
			}
		}
	}
	lost := 0
	for _, p := range prior {
		if g := c.get(ctx, p.agent, p.key); g.status == http.StatusOK && (!g.resp.Found || g.resp.Value != p.value) {
			lost++
		}
	}
	if bad > 0 {
		c.set(PartAckedRead, Wrong, fmt.Sprintf("%d writes answered 200 after recovery were not there: %s", bad, first))
	} else {
		c.set(PartAckedRead, OK, fmt.Sprintf("every write answered 200 after recovery was read back; of %d acknowledged "+
			"before the outage, %d lost (data loss: a drill measures it as RPO)", len(prior), lost))
	}
	return nil
}

func countText(m map[string]int) string {
	if len(m) == 0 {
		return "none failed"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}
