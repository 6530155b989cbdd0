package checkpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/geodrill/geodrill/refstack/bugs"
)

// Endpoint is one region's object store.
type Endpoint struct {
	Region string
	Addr   string // host:port of the S3 API
}

// StoreConfig says where the object stores are.
type StoreConfig struct {
	Endpoints []Endpoint // every region, in region order
	User      string
	Password  string
	Bucket    string
	// OpTimeout bounds one object operation in one region; a dead or paused region must
	// not stall a checkpoint or a restore. Default 3s.
	OpTimeout time.Duration
	// Bugs are the unsafe switches turned on (self-validation only); the store reads
	// skip-checksum: accept an object whatever its sha256 and size.
	Bugs bugs.Set
	// TLS, when set, is how the stores are reached: over HTTPS with this client
	// configuration (the run's CA and this process's certificate).
	TLS *tls.Config
}

// Store writes and reads checkpoint objects in every region's bucket.
type Store struct {
	cfg     StoreConfig
	regions []string
	clients map[string]*minio.Client

	mu       sync.Mutex
	buckets  map[string]bool      // region -> bucket known to exist
	failedAt map[string]time.Time // region -> when a put there last failed
}

// NewStore builds clients; it does not contact the stores.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("checkpoint: bucket name is empty")
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 3 * time.Second
	}
	s := &Store{cfg: cfg, clients: map[string]*minio.Client{}, buckets: map[string]bool{}, failedAt: map[string]time.Time{}}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		TLSClientConfig:     cfg.TLS,
	}
	for _, ep := range cfg.Endpoints {
		if _, dup := s.clients[ep.Region]; dup {
			return nil, fmt.Errorf("checkpoint: region %q given twice", ep.Region)
		}
		c, err := minio.New(ep.Addr, &minio.Options{
			Creds:     credentials.NewStaticV4(cfg.User, cfg.Password, ""),
			Region:    "us-east-1", // skips a bucket-location round trip
			Transport: transport,
			Secure:    cfg.TLS != nil,
			// Fail over to another region instead of retrying a dead one.
			MaxRetries: 2,
		})
		if err != nil {
			return nil, fmt.Errorf("checkpoint: region %s store %q: %w", ep.Region, ep.Addr, err)
		}
		s.clients[ep.Region] = c
		s.regions = append(s.regions, ep.Region)
	}
	return s, nil
}

// Regions in configured order.
func (s *Store) Regions() []string { return slices.Clone(s.regions) }

// Bucket is the bucket the store uses in every region.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// EnsureBuckets creates the bucket in every region that lacks it and returns the regions
// that could not be reached. It is idempotent and cheap once every bucket is known.
func (s *Store) EnsureBuckets(ctx context.Context) map[string]error {
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, r := range s.regions {
		wg.Go(func() {
			if err := s.ensureBucket(ctx, r); err != nil {
				mu.Lock()
				failed[r] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

func (s *Store) ensureBucket(ctx context.Context, region string) error {
	s.mu.Lock()
	ok := s.buckets[region]
	s.mu.Unlock()
	if ok {
		return nil
	}
	c, err := s.client(region)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	err = c.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("checkpoint: region %s: make bucket %s: %w", region, s.cfg.Bucket, err)
		}
	}
	s.mu.Lock()
	s.buckets[region] = true
	s.mu.Unlock()
	return nil
}

func (s *Store) client(region string) (*minio.Client, error) {
	c, ok := s.clients[region]
	if !ok {
		return nil, fmt.Errorf("checkpoint: no object store configured for region %q", region)
	}
	return c, nil
}

// Put writes body under key in one region.
func (s *Store) Put(ctx context.Context, region, key string, body []byte) error {
	if err := s.ensureBucket(ctx, region); err != nil {
		return err
	}
	c, err := s.client(region)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	_, err = c.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true})
	if err != nil {
		s.mu.Lock()
		s.failedAt[region] = time.Now()
		s.mu.Unlock()
		return fmt.Errorf("checkpoint: region %s: put %s: %w", region, key, err)
	}
	s.mu.Lock()
	delete(s.failedAt, region)
	s.mu.Unlock()
	return nil
}

// FailedWithin reports whether the last put to region failed less than d ago, so a writer
// with a choice of regions can avoid waiting out a dead store's timeout every time.
func (s *Store) FailedWithin(region string, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.failedAt[region]
	return ok && time.Since(t) < d
}

// Get reads key from one region.
func (s *Store) Get(ctx context.Context, region, key string) ([]byte, error) {
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	obj, err := c.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: region %s: get %s: %w", region, key, err)
	}
	defer obj.Close()
	body, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: region %s: get %s: %w", region, key, err)
	}
	return body, nil
}

// Remove deletes key from one region.
func (s *Store) Remove(ctx context.Context, region, key string) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	if err := c.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("checkpoint: region %s: remove %s: %w", region, key, err)
	}
	return nil
}

// List returns the object keys under prefix in one region, sorted.
func (s *Store) List(ctx context.Context, region, prefix string) ([]string, error) {
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	var keys []string
	for obj := range c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("checkpoint: region %s: list %s: %w", region, prefix, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys, nil
}

// Replicate writes body to the first region, then copies it to the others in parallel, and
// returns the regions that hold it (first region first, then region order) with the errors
// of the others. It waits for every region, each bounded by the op timeout.
func (s *Store) Replicate(ctx context.Context, first, key string, body []byte) ([]string, map[string]error) {
	failed := map[string]error{}
	var held []string
	if err := s.Put(ctx, first, key, body); err != nil {
		failed[first] = err
	} else {
		held = append(held, first)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	others := map[string]bool{}
	for _, r := range s.regions {
		if r == first {
			continue
		}
		wg.Go(func() {
			err := s.Put(ctx, r, key, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[r] = err
			} else {
				others[r] = true
			}
		})
	}
	wg.Wait()
	for _, r := range s.regions {
		if others[r] {
			held = append(held, r)
		}
	}
	return held, failed
}

// Fetch reads the object described by om from the regions that hold it, in the order of
// prefer (regions not in prefer come last), and returns the first copy that verifies,
// migrated to the current schema, with the region it came from. Each skipped region's
// reason is in the error if no copy verifies.
func (s *Store) Fetch(ctx context.Context, agent string, om ObjectMeta, prefer []string) (Object, string, error) {
	var reasons []string
	for _, r := range fetchOrder(om.Regions, prefer) {
		body, err := s.Get(ctx, r, om.Object)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if s.cfg.Bugs.On(bugs.SkipChecksum) {
			om.SHA256, om.Size = Sum(body), 0 // UNSAFE: whatever was read is taken as intact
		}
		o, err := Decode(body, agent, om)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("region %s: %s: %v", r, om.Object, err))
			continue
		}
		return o, r, nil
	}
	return Object{}, "", fmt.Errorf("checkpoint: no region holds an intact %s (regions %v): %s",
		om.Object, om.Regions, strings.Join(reasons, "; "))
}

// Restored is the state a restore rebuilt.
type Restored struct {
	Data  map[string]string
	Seq   int64        // the state includes every write with seq <= Seq
	Chain []ObjectMeta // the objects applied, full first: a prefix of one chain of the metadata
	From  []string     // region each object of Chain was read from
	// Skipped says why newer objects were not used (a chain whose full is nowhere intact,
	// a delta missing or corrupt in every region that should hold it).
	Skipped []string
}

// Region is the region the state came from: where the newest applied object was read.
func (r Restored) Region() string {
	if len(r.From) == 0 {
		return ""
	}
	return r.From[len(r.From)-1]
}

// Restore rebuilds an agent's state from m: the newest chain whose full verifies in some
// region, plus as many of its deltas, in order, as verify; each object is read from the
// first region in prefer that holds an intact copy. The result can end before m.Seq (a
// delta or a whole chain was lost): callers that need m.Seq exactly must check. Empty
// metadata restores the empty state.
func (s *Store) Restore(ctx context.Context, agent string, m Meta, prefer []string) (Restored, error) {
	out := Restored{Data: map[string]string{}}
	chains := m.chains()
	if len(chains) == 0 {
		return out, nil
	}
	for i, chain := range chains {
		full, from, err := s.Fetch(ctx, agent, chain[0], prefer)
		if err != nil {
			out.Skipped = append(out.Skipped, fmt.Sprintf("chain %d (full seq %d): %v", i, chain[0].Seq, err))
			continue
		}
		out.Data, out.Seq = full.Data, full.Seq
		out.Chain, out.From = []ObjectMeta{chain[0]}, []string{from}
		deltas := chain[1:]
		lastOnly := s.cfg.Bugs.On(bugs.RestoreLastDeltaOnly) && len(deltas) > 0
		if lastOnly {
			// BUG (restore-last-delta-only): deltas taken for cumulative since the full.
			deltas = deltas[len(deltas)-1:]
		}
		for _, om := range deltas {
			d, from, err := s.Fetch(ctx, agent, om, prefer)
			if err == nil && d.BaseSeq != out.Seq && !lastOnly {
				err = fmt.Errorf("%w: delta %s is based on seq %d, the chain is at %d", ErrCorrupt, om.Object, d.BaseSeq, out.Seq)
			}
			if err != nil {
				out.Skipped = append(out.Skipped, fmt.Sprintf("chain %d delta seq %d and after: %v", i, om.Seq, err))
				break
			}
			maps.Copy(out.Data, d.Data)
			out.Seq = d.Seq
			out.Chain, out.From = append(out.Chain, om), append(out.From, from)
		}
		return out, nil
	}
	return Restored{}, fmt.Errorf("checkpoint: %s: no chain can be restored: %s", agent, strings.Join(out.Skipped, "; "))
}

func fetchOrder(held, prefer []string) []string {
	out := make([]string, 0, len(held))
	for _, r := range prefer {
		if slices.Contains(held, r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range held {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}
