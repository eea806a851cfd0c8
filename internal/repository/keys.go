package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// KeySlot is a stored key file: the master key wrapped for one person or
// machine. Its plaintext fields are informational only.
type KeySlot struct {
	Created  time.Time `json:"created"`
	Hostname string    `json:"hostname,omitempty"`
	Username string    `json:"username,omitempty"`
	Label    string    `json:"label,omitempty"`
	crypto.Wrapped
}

// KeyInfo describes a key slot for `key list`.
type KeyInfo struct {
	ID       crypto.ID `json:"id"`
	Created  time.Time `json:"created"`
	Hostname string    `json:"hostname,omitempty"`
	Username string    `json:"username,omitempty"`
	Label    string    `json:"label,omitempty"`
	Current  bool      `json:"current"`
}

// maxKeyFileSize bounds a key file read from storage.
const maxKeyFileSize = 1 << 16

func newKeySlot(key *crypto.Key, password []byte, p crypto.KDFParams, label string) ([]byte, error) {
	w, err := crypto.Wrap(key, password, p)
	if err != nil {
		return nil, err
	}
	ks := KeySlot{Created: time.Now().UTC(), Label: label, Wrapped: w}
	ks.Hostname, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		ks.Username = u.Username
	}
	return json.Marshal(ks)
}

func parseKeySlot(data []byte) (*KeySlot, error) {
	var ks KeySlot
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, fmt.Errorf("parse key slot: %w", err)
	}
	return &ks, nil
}

// saveKeySlot stores a slot under the hash of its bytes.
func saveKeySlot(ctx context.Context, be backend.Backend, data []byte) (crypto.ID, error) {
	id := crypto.Hash(data)
	if err := be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: id.String()}, data); err != nil {
		return id, fmt.Errorf("save key: %w", err)
	}
	return id, nil
}

// listIDs lists stored files of type t whose names are valid ids.
func listIDs(ctx context.Context, be backend.Backend, t backend.FileType) ([]crypto.ID, error) {
	var ids []crypto.ID
	err := be.List(ctx, t, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			return nil // not ours; check reports strays
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %v: %w", t, err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids, nil
}

// openKey tries every key slot with password and returns the master key and
// the slot that opened.
//
// accept decides whether an unwrapped master key is this repository's (it
// must open the config): someone who knows the password can add a key slot
// wrapping another repository's master key under it, and a slot that sorts
// first must not lock the owner out. Slots are tried until one is accepted.
func openKey(ctx context.Context, be backend.Backend, password []byte, accept func(*crypto.Key) error) (*crypto.Key, crypto.ID, error) {
	ids, err := listIDs(ctx, be, backend.KeyFile)
	if err != nil {
		return nil, crypto.ID{}, err
	}
	if len(ids) == 0 {
		return nil, crypto.ID{}, fmt.Errorf("repository has no key slots")
	}
	var firstErr, opened error
	for _, id := range ids {
		data, err := loadLimited(ctx, be, backend.Handle{Type: backend.KeyFile, Name: id.String()}, maxKeyFileSize)
		if err == nil && crypto.Hash(data) != id {
			err = fmt.Errorf("key %s is damaged (content does not match its name)", id.Short())
		}
		var ks *KeySlot
		if err == nil {
			ks, err = parseKeySlot(data)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		k, err := ks.Unwrap(password)
		if err == nil {
			if err = accept(k); err == nil {
				return k, id, nil
			}
			opened = fmt.Errorf("key %s opens with this password but its master key does not open the config (a slot of another repository, added by someone who knows the password): %w", id.Short(), err)
			continue
		}
		if !errors.Is(err, crypto.ErrWrongPassword) && firstErr == nil {
			firstErr = fmt.Errorf("key %s: %w", id.Short(), err)
		}
	}
	if opened != nil {
		return nil, crypto.ID{}, opened
	}
	if firstErr != nil {
		return nil, crypto.ID{}, fmt.Errorf("%w (also: %v)", crypto.ErrWrongPassword, firstErr)
	}
	return nil, crypto.ID{}, crypto.ErrWrongPassword
}

// loadLimited loads a whole file, refusing files larger than limit.
func loadLimited(ctx context.Context, be backend.Backend, h backend.Handle, limit int64) ([]byte, error) {
	fi, err := be.Stat(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("stat %v: %w", h, err)
	}
	if fi.Size > limit {
		return nil, fmt.Errorf("%v is %d bytes, more than the %d allowed: damaged or hostile repository", h, fi.Size, limit)
	}
	if fi.Size == 0 {
		return nil, fmt.Errorf("%v is empty: damaged repository", h)
	}
	data, err := be.Load(ctx, h, 0, fi.Size)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	return data, nil
}

// AddKey wraps the open repository's master key under a new password.
func (r *Repository) AddKey(ctx context.Context, password []byte, label string) (crypto.ID, error) {
	data, err := newKeySlot(r.key, password, r.kdf, label)
	if err != nil {
		return crypto.ID{}, err
	}
	return saveKeySlot(ctx, r.be, data)
}

// ListKeys describes every key slot.
func (r *Repository) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	ids, err := listIDs(ctx, r.be, backend.KeyFile)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, id := range ids {
		data, err := loadLimited(ctx, r.be, backend.Handle{Type: backend.KeyFile, Name: id.String()}, maxKeyFileSize)
		if err != nil {
			return nil, err
		}
		ks, err := parseKeySlot(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", id.Short(), err)
		}
		out = append(out, KeyInfo{ID: id, Created: ks.Created, Hostname: ks.Hostname, Username: ks.Username, Label: ks.Label, Current: id == r.keyID})
	}
	return out, nil
}

// MaxProbedSlots bounds the key slots ForeignKeySlots derives a key for:
// whoever can add slots must not turn a check into hours of Argon2id.
const MaxProbedSlots = 32

// ForeignKeySlots lists the key slots that open with the password the
// repository was opened with but wrap another master key: slots of another
// repository, which only someone who knows the password can have put here
// (an attacker holding it, or an init of another repository interrupted in
// this place). They open nothing here, but each costs every open a key
// derivation, and their presence says the password is known elsewhere.
// Every slot but the current one costs a key derivation, so at most
// MaxProbedSlots are tried; untried counts the rest.
func (r *Repository) ForeignKeySlots(ctx context.Context) (foreign []crypto.ID, untried int, err error) {
	if len(r.password) == 0 {
		return nil, 0, nil
	}
	ids, err := listIDs(ctx, r.be, backend.KeyFile)
	if err != nil {
		return nil, 0, err
	}
	tried := 0
	for _, id := range ids {
		if id == r.keyID {
			continue
		}
		if err := ctx.Err(); err != nil {
			return foreign, 0, err
		}
		if tried == MaxProbedSlots {
			untried++
			continue
		}
		tried++
		data, err := loadLimited(ctx, r.be, backend.Handle{Type: backend.KeyFile, Name: id.String()}, maxKeyFileSize)
		if err != nil || crypto.Hash(data) != id {
			continue // damaged: check reports it on its own
		}
		ks, err := parseKeySlot(data)
		if err != nil {
			continue
		}
		k, err := ks.Unwrap(r.password)
		if err != nil {
			continue // another password's slot, or damaged
		}
		if k.Encryption != r.key.Encryption || k.BlobID != r.key.BlobID || k.ChunkerSeed != r.key.ChunkerSeed {
			foreign = append(foreign, id)
		}
	}
	return foreign, untried, nil
}

// ErrLastKey refuses removing the key in use, which could lock everyone out.
var ErrLastKey = errors.New("refusing to remove the key that opened the repository; open it with another key first")

// RemoveKey deletes a key slot other than the one in use.
func (r *Repository) RemoveKey(ctx context.Context, id crypto.ID) error {
	if id == r.keyID {
		return ErrLastKey
	}
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: id.String()}); err != nil {
		return fmt.Errorf("remove key %s: %w", id.Short(), err)
	}
	return nil
}
