// Package checkpoint holds agent snapshots in the regions' object stores: the snapshot
// format (one schema version, here), its object key, sha256 verification, and a Store that
// writes the same bytes to every region and reads them back from whichever region still
// holds an intact copy.
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/geodrill/geodrill/refstack/api"
)

// Schema is the version of the snapshot format written today. Restore rejects other
// versions until schema migration exists.
const Schema = 1

// Snapshot is a full agent state as stored in an object.
type Snapshot struct {
	Schema int               `json:"schema"`
	Agent  string            `json:"agent"`
	Epoch  int64             `json:"epoch"` // epoch of the owner that wrote it
	Seq    int64             `json:"seq"`   // includes every log entry with seq <= Seq
	Data   map[string]string `json:"data"`
}

// ObjectKey names the object of a full snapshot. Seq first so keys sort by age; the epoch
// keeps two owners that snapshot the same seq from overwriting each other.
func ObjectKey(agent string, seq, epoch int64) string {
	return fmt.Sprintf("agents/%s/full-%020d-e%d.json", agent, seq, epoch)
}

// Encode returns the object bytes and their hex sha256.
func Encode(s Snapshot) ([]byte, string, error) {
	s.Schema = Schema
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint: encode %s seq %d: %w", s.Agent, s.Seq, err)
	}
	return body, Sum(body), nil
}

// Sum is the hex sha256 of body.
func Sum(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// ErrCorrupt means the object's bytes do not match the checkpoint metadata.
var ErrCorrupt = errors.New("checkpoint corrupt")

// Decode verifies body against meta (sha256, size, schema, agent, seq) and decodes it.
func Decode(body []byte, agent string, meta api.CheckpointMeta) (Snapshot, error) {
	if got := Sum(body); got != meta.SHA256 {
		return Snapshot{}, fmt.Errorf("%w: sha256 %s, metadata says %s", ErrCorrupt, got, meta.SHA256)
	}
	if meta.Size != 0 && int64(len(body)) != meta.Size {
		return Snapshot{}, fmt.Errorf("%w: %d bytes, metadata says %d", ErrCorrupt, len(body), meta.Size)
	}
	var s Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case s.Schema != Schema:
		return Snapshot{}, fmt.Errorf("checkpoint: schema %d, this build reads schema %d", s.Schema, Schema)
	case s.Agent != agent || s.Seq != meta.Seq:
		return Snapshot{}, fmt.Errorf("%w: holds %s seq %d, want %s seq %d", ErrCorrupt, s.Agent, s.Seq, agent, meta.Seq)
	}
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	return s, nil
}
