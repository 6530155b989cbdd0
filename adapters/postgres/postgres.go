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
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/geodrill/geodrill/refstack/api"
)

// Config is what the adapter needs: each region's Patroni REST API and PostgreSQL
// address, the credentials, and how many agents the drill uses (for /status).
type Config struct {
	Patroni  map[string]string // region -> host:port of Patroni's REST API
	Postgres map[string]string // region -> host:port of PostgreSQL
	User     string
	Password string
	Database string
	Agents   int
	// Poll is how often the Patronis are asked who leads (default 100ms).
	Poll time.Duration
}

type leader struct {
	region string
	epoch  int64
	pool   *pgxpool.Pool
}

// Adapter serves the contract over PostgreSQL.
type Adapter struct {
	cfg     Config
	regions []string
	http    *http.Client

	mu  sync.Mutex
	cur *leader
}

// New builds the adapter; Run polls until ctx ends.
func New(cfg Config) (*Adapter, error) {
	if len(cfg.Patroni) == 0 || len(cfg.Postgres) == 0 {
		return nil, errors.New("postgres adapter: need --patroni and --postgres")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	a := &Adapter{cfg: cfg, http: &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{Proxy: nil}}}
	for r := range cfg.Patroni {
		a.regions = append(a.regions, r)
	}
	sort.Strings(a.regions)
	return a, nil
}

// Run polls the Patronis until ctx ends.
func (a *Adapter) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	for {
		a.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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
	for _, r := range a.regions {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.cfg.Patroni[r]+"/patroni", nil)
		res, err := a.http.Do(req)
		if err != nil {
			continue
		}
		var st patroniState
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil || st.State != "running" || (st.Role != "master" && st.Role != "primary") {
			continue
		}
		if st.Timeline > bestTL {
			best, bestTL = r, st.Timeline
		}
	}
	if best == "" {
		a.set(nil)
		return
	}
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur != nil && cur.region == best && cur.epoch == bestTL {
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
	a.set(&leader{region: best, epoch: bestTL, pool: pool})
}

func (a *Adapter) set(l *leader) {
	a.mu.Lock()
	old := a.cur
	a.cur = l
	a.mu.Unlock()
	if old != nil && (l == nil || old.pool != l.pool) {
		go func() { time.Sleep(2 * time.Second); old.pool.Close() }()
	}
}

func (a *Adapter) leader() *leader {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

// ServeHTTP serves the contract.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/healthz":
		if a.leader() == nil {
			http.Error(w, "no leader known", http.StatusServiceUnavailable)
		}
		return
	case r.URL.Path == "/status":
		st := api.RouterStatus{Owners: map[string]api.Owner{}}
		if l := a.leader(); l != nil {
			for i := range a.cfg.Agents {
				st.Owners[api.AgentID(i)] = api.Owner{Region: l.region, Epoch: l.epoch, URL: "postgres://" + a.cfg.Postgres[l.region]}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
		return
	case len(parts) == 4 && parts[0] == "agents" && (parts[2] == "kv" || parts[2] == "cas"):
	default:
		http.NotFound(w, r)
		return
	}
	agent, key := parts[1], parts[3]
	l := a.leader()
	if l == nil {
		reply(w, http.StatusServiceUnavailable, api.Response{Agent: agent, Key: key, Error: "no leader"}, "fail")
		return
	}
	ctx := r.Context()
	k := agent + "/" + key
	resp := api.Response{Agent: agent, Key: key, Region: l.region, Epoch: l.epoch}
	var err error
	switch {
	case parts[2] == "kv" && r.Method == http.MethodGet:
		err = l.pool.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, k).Scan(&resp.Value)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		} else if err == nil {
			resp.Found = true
		}
	case parts[2] == "kv" && r.Method == http.MethodPut:
		b, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			reply(w, http.StatusBadRequest, api.Response{Agent: agent, Key: key, Error: rerr.Error()}, "fail")
			return
		}
		_, err = l.pool.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`, k, string(b))
	case parts[2] == "cas" && r.Method == http.MethodPost:
		var c api.CASRequest
		if derr := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); derr != nil {
			reply(w, http.StatusBadRequest, api.Response{Agent: agent, Key: key, Error: "cas body: " + derr.Error()}, "fail")
			return
		}
		err = cas(ctx, l.pool, k, c, &resp)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		code, outcome := classify(err)
		resp.Error = err.Error()
		reply(w, code, resp, outcome)
		return
	}
	reply(w, http.StatusOK, resp, "")
}

// cas swaps in one transaction: the row locked, compared (a key never written counts as
// ""), written when it matches; otherwise the value it saw is reported.
func cas(ctx context.Context, pool *pgxpool.Pool, k string, c api.CASRequest, resp *api.Response) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var cur string
	err = tx.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1 FOR UPDATE`, k).Scan(&cur)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if cur != c.Expect {
		resp.Found, resp.Value = found, cur
		return tx.Commit(ctx)
	}
	if found {
		_, err = tx.Exec(ctx, `UPDATE kv SET v = $2 WHERE k = $1`, k, c.Value)
	} else {
		var tag pgconn.CommandTag
		tag, err = tx.Exec(ctx, `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING`, k, c.Value)
		if err == nil && tag.RowsAffected() == 0 {
			// Written meanwhile: what the compare saw is gone; report no swap and the new value.
			var now string
			if err = tx.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, k).Scan(&now); err != nil {
				return err
			}
			resp.Found, resp.Value = true, now
			return tx.Commit(ctx)
		}
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	resp.Swapped, resp.Found, resp.Value = true, true, c.Value
	return nil
}

// classify maps an error to a status and outcome: a connection never made or a statement
// PostgreSQL refused did not take effect; a connection lost after the statement was sent
// (a COMMIT whose answer never came, say) may have.
func classify(err error) (int, string) {
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
	case pgconn.SafeToRetry(err):
		return http.StatusServiceUnavailable, "fail" // nothing was sent
	case errors.As(err, &op) && op.Op == "dial":
		return http.StatusServiceUnavailable, "fail"
	}
	return http.StatusGatewayTimeout, "unknown"
}

func reply(w http.ResponseWriter, code int, resp api.Response, outcome string) {
	w.Header().Set("Content-Type", "application/json")
	if resp.Region != "" {
		w.Header().Set(api.HeaderRegion, resp.Region)
	}
	if resp.Epoch != 0 {
		w.Header().Set(api.HeaderEpoch, strconv.FormatInt(resp.Epoch, 10))
	}
	if outcome != "" {
		w.Header().Set(api.HeaderOutcome, outcome)
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(resp)
}
