package reports

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geodrill/geodrill/rundir"
	"github.com/geodrill/geodrill/timeline"
)

// chromiumFlags keep headless Chromium off the network: without them it waits on
// connections a closed CI network never answers.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"}

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GEODRILL_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GEODRILL_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("chromium not found (%v): run scripts/install-chromium.sh, or set GEODRILL_CHROMIUM", err)
		}
		t.Skip("chromium not found; make test installs it (scripts/install-chromium.sh)")
	}
	return p
}

// runChromium runs headless Chromium with a fresh profile on a file URL.
func runChromium(ctx context.Context, t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	args = append(append(append([]string(nil), chromiumFlags...), "--user-data-dir="+t.TempDir()), args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestReportInChromium opens report.html as a reviewer would — from disk, in a browser — and
// checks what the browser built: the SLA table with one styled row per verdict, and the three
// charts drawn. It keeps a screenshot. GEODRILL_REPORT_DIR checks a real run directory (make
// report-check passes the newest one); otherwise the failing saved run in testdata is rendered.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	var r *Run
	if dir := os.Getenv("GEODRILL_REPORT_DIR"); dir != "" {
		var err error
		if r, err = Load(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, rundir.HTMLFile)); err != nil {
			t.Fatalf("%v: the run directory has no report (harness report %s writes one)", err, dir)
		}
	} else {
		r = copyRun(t, "unsafe")
		if err := Write(r); err != nil {
			t.Fatal(err)
		}
	}
	abs, err := filepath.Abs(filepath.Join(r.Dir, rundir.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + abs
	ctx := context.Background()

	dom := string(runChromium(ctx, t, bin, "--dump-dom", url))
	sla := between(dom, `<table id="sla">`, `</table>`)
	if sla == "" {
		t.Fatalf("no SLA table in the DOM Chromium built:\n%.2000s", dom)
	}
	vs := rows(r.Results)
	got := regexp.MustCompile(`<tr class="(pass|fail|unknown)">`).FindAllStringSubmatch(sla, -1)
	if len(got) != len(vs) {
		t.Errorf("SLA table has %d verdict rows, want %d", len(got), len(vs))
	}
	for i := 0; i < len(got) && i < len(vs); i++ {
		if got[i][1] != vs[i].Status.String() {
			t.Errorf("SLA row %d (%s) styled %q, want %q", i, vs[i].Target, got[i][1], vs[i].Status)
		}
	}
	for _, c := range []struct {
		id, mark string
		least    int
	}{
		{"throughput", "<rect", 20}, {"latency", "<polyline", 2}, {"owners", "<rect", 5},
	} {
		chart := between(dom, `<div id="`+c.id+`">`, `</svg>`)
		if !strings.Contains(chart, `<svg class="chart"`) || strings.Count(chart, c.mark) < c.least {
			t.Errorf("%s chart missing or empty in the DOM (%d %s elements)", c.id, strings.Count(chart, c.mark), c.mark)
		}
	}
	if len(timeline.Windows(r.Timeline)) > 0 && !strings.Contains(dom, `class="fault"`) {
		t.Error("no fault window shaded")
	}

	shotDir := os.Getenv("GEODRILL_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = r.Dir
		if os.Getenv("GEODRILL_REPORT_DIR") == "" {
			// Kept with the test output, outside the temporary run dir: runs/ is where run
			// output lives and is ignored by git.
			shotDir = filepath.Join("..", "runs", "report-check")
		}
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(shotDir, "report.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(shot)
	runChromium(ctx, t, bin, "--window-size=1100,2400", "--screenshot="+shot, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if n := colours(img); n < 8 {
		t.Errorf("screenshot %s has %d colours: the page did not render", shot, n)
	}
	t.Logf("screenshot: %s", shot)
}

// colours counts distinct colours on a coarse grid: a blank page has one or two.
func colours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
		}
	}
	return len(seen)
}
