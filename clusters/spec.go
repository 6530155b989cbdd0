package clusters

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/geodrill/geodrill/refstack/api"
	"github.com/geodrill/geodrill/refstack/config"
	"github.com/geodrill/geodrill/system"
)

// Object store user and bucket of the reference stack; the secret key is drawn per run
// (NewSecret) and reaches the processes by environment only. Checkers read checkpoints with
// the Endpoints' copy.
const (
	MinIOUser = "geodrill"
	Bucket    = "geodrill"
)

// NewSecret draws a secret for one run: 128 random bits, hex.
func NewSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw a secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Spec is the topology and stack settings a provider brings up.
type Spec struct {
	// Regions in preference order; each gets an etcd member, a MinIO and an agent host.
	Regions []string
	// Agents is how many agents the registry holds (agent-00 ...).
	Agents int
	// Placement gives how many agents start in each region; the rest are spread
	// round-robin (see api.Placement).
	Placement map[string]int
	// Stack is the reference stack's configuration, handed to every host and router as one
	// file in the run directory (rundir.StackFile).
	Stack config.Stack
	// System, when set, is the described system to run instead of the reference stack
	// (clusters/described); Stack then does not apply.
	System *system.Described

	// BinDir holds the refstack and minio binaries; "" means FindBinDir.
	BinDir string
	// RunDir receives logs (RunDir/logs) and data; "" means a new temporary directory.
	RunDir string
	// Progress, if set, receives short human-readable steps ("starting etcd a").
	Progress func(msg string)
}

var regionName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// WithDefaults fills the zero values that have a default.
func (s Spec) WithDefaults() Spec {
	s.Stack = s.Stack.WithDefaults()
	return s
}

// Validate reports every problem with s, each saying what to fix.
func (s Spec) Validate() error {
	var errs []error
	if len(s.Regions) == 0 {
		errs = append(errs, errors.New("regions: at least one region is needed"))
	}
	seen := map[string]bool{}
	for _, r := range s.Regions {
		if !regionName.MatchString(r) {
			// Region names become etcd member names, file names and flag values.
			errs = append(errs, fmt.Errorf("region %q: use lowercase letters, digits and '-', starting with a letter", r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("region %q is listed twice", r))
		}
		seen[r] = true
	}
	if s.Agents < 1 {
		errs = append(errs, fmt.Errorf("agents: %d, need at least 1", s.Agents))
	}
	sum := 0
	for r, n := range s.Placement {
		if !seen[r] {
			errs = append(errs, fmt.Errorf("placement names region %q, which is not in regions %v", r, s.Regions))
		}
		if n < 0 {
			errs = append(errs, fmt.Errorf("placement %s=%d: must not be negative", r, n))
		}
		sum += n
	}
	if sum > s.Agents {
		errs = append(errs, fmt.Errorf("placement places %d agents but there are only %d", sum, s.Agents))
	}
	for _, p := range s.Stack.WithDefaults().ProblemsAt("stack.") {
		errs = append(errs, fmt.Errorf("%s: %s (%s)", p.Field, p.Msg, p.Fix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster spec: %w", err)
	}
	return nil
}

// Endpoints is where a running stack answers.
type Endpoints struct {
	// Router is the router's base URL, e.g. http://127.0.0.1:P: where clients send load and
	// final reads (on the local provider, through a proxy that can degrade that path).
	Router string
	// RouterDirect is the router's own address, bypassing any proxy, for the harness's
	// status reads; "" when Router is direct. Use StatusRouter.
	RouterDirect string
	// Routers is every router clients send load to, Router first; the others are reached
	// directly. Ops are spread over them (workload.Config.Routers).
	Routers []string
	// Regions by name.
	Regions map[string]RegionEndpoints
	// Etcd is every etcd client endpoint (host:port), in region order.
	Etcd []string
	// MinIO credentials and the bucket holding checkpoints.
	MinIOUser, MinIOPassword, Bucket string
	// Logs is the directory holding the processes' logs, if the provider keeps them there.
	Logs string
	// TLS, when the stack runs with mutual TLS, is the run's CA and the harness's own
	// certificate: every URL above is then https, and every client the harness opens
	// presents it (ClientTLS).
	TLS *TLSFiles `json:"tls,omitempty"`
}

// TLSFiles are the PEM files of a TLS identity and the CA it trusts.
type TLSFiles struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// ClientTLS is the configuration of the harness's clients: nil when the stack runs without
// TLS.
func (e Endpoints) ClientTLS() (*tls.Config, error) {
	if e.TLS == nil {
		return nil, nil
	}
	cas := x509.NewCertPool()
	b, err := os.ReadFile(e.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster TLS: %w", err)
	}
	if !cas.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("cluster TLS: %s holds no certificate", e.TLS.CA)
	}
	pair, err := tls.LoadX509KeyPair(e.TLS.Cert, e.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("cluster TLS: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cas, Certificates: []tls.Certificate{pair}}, nil
}

// Scheme is the URL scheme of the stack's HTTP services: https under TLS.
func (e Endpoints) Scheme() string {
	if e.TLS != nil {
		return "https"
	}
	return "http"
}

// StatusRouter is the router URL for the harness's own reads (owners, health): the direct
// address when the client path is proxied.
func (e Endpoints) StatusRouter() string {
	if e.RouterDirect != "" {
		return e.RouterDirect
	}
	return e.Router
}

// RegionEndpoints is where one region's services answer.
type RegionEndpoints struct {
	Etcd  string // client endpoint, host:port
	MinIO string // S3 endpoint, host:port (as minio-go takes it)
	Host  string // agent host base URL, http://host:port
	// Health, when set, are the region's health checks instead of the three above (a
	// described system's): http(s) URLs answering 200, or tcp://host:port accepting a
	// connection.
	Health []string `json:",omitempty"`
}

// HealthURLs are region's readiness URLs: etcd, MinIO, agent host (or the region's own
// Health). Each answers 200 when its service is up (a tcp:// one accepts a connection);
// together they are what "the region is up" means.
func (e Endpoints) HealthURLs(region string) []string {
	r := e.Regions[region]
	if len(r.Health) > 0 {
		return r.Health
	}
	return []string{
		e.Scheme() + "://" + r.Etcd + "/health",
		e.Scheme() + "://" + r.MinIO + "/minio/health/live",
		r.Host + "/healthz",
	}
}

// HealthStatus runs one health check of HealthURLs: an http(s) URL's status, or 200 when
// a tcp://host:port accepts a connection (a described system's service that speaks no
// HTTP). client sends the HTTP ones.
func HealthStatus(ctx context.Context, client *http.Client, url string) (int, error) {
	if addr, ok := strings.CutPrefix(url, "tcp://"); ok {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return 0, err
		}
		conn.Close()
		return http.StatusOK, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// EnvBinDir names the environment variable that points at the binaries directory.
const EnvBinDir = "GEODRILL_BIN"

// FindBinDir resolves the directory holding refstack and minio: explicit if set, else
// $GEODRILL_BIN, else bin/ at the module root found by walking up from the working
// directory to go.mod, else the directory of the running executable (bin/harness sits
// next to bin/refstack).
func FindBinDir(explicit string) (string, error) {
	if explicit != "" {
		return filepath.Abs(explicit)
	}
	if d := os.Getenv(EnvBinDir); d != "" {
		return filepath.Abs(d)
	}
	var tried []string
	if root, err := ModuleRoot(); err == nil {
		d := filepath.Join(root, "bin")
		if isDir(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		if _, err := os.Stat(filepath.Join(d, "refstack")); err == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("no binaries directory: set $%s or run `make build` (tried %s)",
		EnvBinDir, strings.Join(tried, ", "))
}

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// RouterOwnersWith reads the router's /status with client: the owner of every agent that
// has one. client may be nil; ctx bounds the request.
func RouterOwnersWith(ctx context.Context, client *http.Client, routerURL string) (map[string]api.Owner, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(routerURL, "/")+"/status", nil)
	if err != nil {
		return nil, fmt.Errorf("router status: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("router status: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("router status: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("router status: %s: %.200s", resp.Status, body)
	}
	var st api.RouterStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("router status: decode: %w", err)
	}
	if st.Owners == nil {
		st.Owners = map[string]api.Owner{}
	}
	return st.Owners, nil
}
