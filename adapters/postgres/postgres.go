// Package postgres is the contract (package conform) served in front of PostgreSQL managed
// by Patroni: one PostgreSQL and one Patroni per region, etcd as Patroni's DCS. Every
// operation goes to the leader Patroni names now; the region of a reply is the leader's
// region, its epoch the leader's PostgreSQL timeline, which a promotion increments.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/geodrill/geodrill/adapters"
)

// Config is what the adapter needs: each region's Patroni REST API and PostgreSQL
// address and the credentials.
type Config struct {
	Patroni  map[string]string // region -> host:port of Patroni's REST API
	Postgres map[string]string // region -> host:port of PostgreSQL
	User     string
	Password string
	Database string
	// Poll is how often the Patronis are asked who leads (default 100ms).
	Poll time.Duration
}

// Adapter serves the contract over PostgreSQL.
type Adapter struct {
	cfg     Config
	regions []string
	http    *http.Client

	// The leader followed, as of the last poll. Ready latches once every member runs and,
	// in synchronous mode, a synchronous standby is named: before that, killing the
	// leader's region leaves nobody Patroni would promote (a replica still taking its base
	// backup, or none allowed to).
	*adapters.Follow[*pgxpool.Pool]
}

// New builds the adapter; Run polls until ctx ends.
func New(cfg Config) (*Adapter, error) {
	if len(cfg.Patroni) == 0 || len(cfg.Postgres) == 0 {
		return nil, errors.New("postgres adapter: need --patroni and --postgres")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	a := &Adapter{cfg: cfg, http: &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{Proxy: nil}},
		Follow: adapters.NewFollow((*pgxpool.Pool).Close,
			"not every Patroni member runs yet, or no synchronous standby is named")}
	for r := range cfg.Patroni {
		a.regions = append(a.regions, r)
	}
	sort.Strings(a.regions)
	return a, nil
}

// Run polls the Patronis until ctx ends.
func (a *Adapter) Run(ctx context.Context) { adapters.Poll(ctx, a.cfg.Poll, a.poll) }

// patroniState is the part of Patroni's GET /patroni the adapter reads.
type patroniState struct {
	State    string `json:"state"`
	Role     string `json:"role"`
	Timeline int64  `json:"timeline"`
}

// poll asks every Patroni for its role and believes the running primary with the highest
// timeline (a deposed leader that has not noticed still says primary, on an older one).
// When the only primary is on an older timeline than the one followed so far, it follows
// it: the leader lock went back, and what that costs is for the checkers to judge.
func (a *Adapter) poll(ctx context.Context) {
	best, bestTL := "", int64(-1)
	running := 0
	for _, r := range a.regions {
		var st patroniState
		if err := a.getJSON(ctx, r, "/patroni", &st); err != nil || (st.State != "running" && st.State != "streaming") {
			continue
		}
		running++
		if st.Role != "master" && st.Role != "primary" {
			continue
		}
		if st.Timeline > bestTL {
			best, bestTL = r, st.Timeline
		}
	}
	if best == "" {
		a.Set(nil)
		return
	}
	if a.Ready() != nil && running == len(a.regions) && a.standbyNamed(ctx, best) {
		a.MarkReady()
	}
	named := adapters.Serving{Region: best, Epoch: bestTL, URL: "postgres://" + a.cfg.Postgres[best]}
	if cur := a.Now(); cur != nil && cur.Serving == named {
		return
	}
	pc, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&connect_timeout=1",
		a.cfg.User, a.cfg.Password, a.cfg.Postgres[best], a.cfg.Database))
	if err != nil {
		return
	}
	pc.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = pool.Exec(cctx, `CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v text NOT NULL)`)
	cancel()
	if err != nil {
		pool.Close()
		return
	}
	a.Set(&adapters.Target[*pgxpool.Pool]{Serving: named, Conn: pool})
}

// standbyNamed is true unless the cluster runs in synchronous mode and has no
// synchronous standby yet (asked of the leader's Patroni: GET /config and /cluster).
func (a *Adapter) standbyNamed(ctx context.Context, leader string) bool {
	var cfg struct {
		Sync bool `json:"synchronous_mode"`
	}
	var cl struct {
		Members []struct {
			Role string `json:"role"`
		} `json:"members"`
	}
	if a.getJSON(ctx, leader, "/config", &cfg) != nil {
		return false
	}
	if !cfg.Sync {
		return true
	}
	if a.getJSON(ctx, leader, "/cluster", &cl) != nil {
		return false
	}
	for _, m := range cl.Members {
		if m.Role == "sync_standby" {
			return true
		}
	}
	return false
}

// getJSON decodes region's Patroni's answer to GET path (200 only).
func (a *Adapter) getJSON(ctx context.Context, region, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.cfg.Patroni[region]+path, nil)
	if err != nil {
		return err
	}
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

var errNoLeader = errors.New("no leader")

func (a *Adapter) pool() (*pgxpool.Pool, error) {
	l := a.Now()
	if l == nil {
		return nil, errNoLeader
	}
	return l.Conn, nil
}

// Get reads key on the leader.
func (a *Adapter) Get(ctx context.Context, key string) (string, bool, error) {
	pool, err := a.pool()
	if err != nil {
		return "", false, err
	}
	var v string
	err = pool.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// Put writes key on the leader (an upsert; its commit waits for the synchronous standby
// when synchronous_mode is on).
func (a *Adapter) Put(ctx context.Context, key, value string) error {
	pool, err := a.pool()
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`, key, value)
	return err
}

// CAS swaps in one transaction: the row locked, compared (a key never written counts as
// ""), written when it matches; otherwise the value it saw is reported.
func (a *Adapter) CAS(ctx context.Context, key, expect, value string) (swapped, found bool, cur string, err error) {
	pool, err := a.pool()
	if err != nil {
		return false, false, "", err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, false, "", err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	err = tx.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1 FOR UPDATE`, key).Scan(&cur)
	found = err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, false, "", err
	}
	if cur != expect {
		return false, found, cur, tx.Commit(ctx)
	}
	if found {
		_, err = tx.Exec(ctx, `UPDATE kv SET v = $2 WHERE k = $1`, key, value)
	} else {
		var tag pgconn.CommandTag
		tag, err = tx.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING`, key, value)
		if err == nil && tag.RowsAffected() == 0 {
			// Written meanwhile: what the compare saw is gone; no swap, and the new value.
			if err = tx.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, key).Scan(&cur); err != nil {
				return false, false, "", err
			}
			return false, true, cur, tx.Commit(ctx)
		}
	}
	if err != nil {
		return false, false, "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, false, "", err
	}
	return true, true, value, nil
}

// Classify maps an error to a status and outcome: a connection never made or a statement
// PostgreSQL refused did not take effect; a connection lost after the statement was sent
// (a COMMIT whose answer never came, say) may have.
func (a *Adapter) Classify(err error) (int, string) {
	var pgErr *pgconn.PgError
	var op *net.OpError
	switch {
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "57") || strings.HasPrefix(pgErr.Code, "08") ||
		strings.HasPrefix(pgErr.Code, "XX")):
		// The server is shutting down or lost the connection: a commit under way may
		// have taken effect.
		return http.StatusGatewayTimeout, "unknown"
	case errors.As(err, &pgErr):
		// PostgreSQL refused the statement (read-only after a demotion, say): its
		// transaction did not take effect.
		return http.StatusConflict, "fail"
	case errors.Is(err, errNoLeader), pgconn.SafeToRetry(err):
		return http.StatusServiceUnavailable, "fail" // nothing was sent
	case errors.As(err, &op) && op.Op == "dial":
		return http.StatusServiceUnavailable, "fail"
	}
	return http.StatusGatewayTimeout, "unknown"
}
