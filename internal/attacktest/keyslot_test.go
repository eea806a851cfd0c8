package attacktest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// keySlot is a key file: its name (the hash of its bytes) and its bytes.
type keySlot struct {
	id   crypto.ID
	data []byte
}

// Bounds on making a forged slot that sorts first (see forgeKeySlots).
const (
	maxThrowaway = 64
	maxRelabel   = 1 << 22
)

// forgeKeySlots makes the key slots the attacker adds to every layer: the
// key files of throwaway repositories made with the stolen password. Each
// opens with the owner's password but wraps another master key, and each
// is stored under the hash of its bytes, so the repository server and S3
// both accept it as a new file. Readers try slots in name order, so one
// slot must sort before the real one: repositories are made until one
// does, and one sorting after is kept as well (if one came up).
//
// If the real slot's name is so low that maxThrowaway repositories give
// none before it, the attacker relabels one: a slot's label (like its
// host and user) is plaintext the password does not protect, and every
// label gives another name.
func forgeKeySlots(t *testing.T, real crypto.ID) []keySlot {
	t.Helper()
	var before, after *keySlot
	var last keySlot
	for range maxThrowaway {
		ks := throwawaySlot(t)
		last = ks
		switch {
		case before == nil && ks.id.String() < real.String():
			before = &ks
		case after == nil && ks.id.String() > real.String():
			after = &ks
		}
		if before != nil && after != nil {
			break
		}
	}
	if before == nil {
		ks := relabelBefore(t, last, real)
		before = &ks
	}
	slots := []keySlot{*before}
	if after != nil {
		slots = append(slots, *after)
	}
	for _, ks := range slots {
		opensWithPassword(t, ks)
	}
	t.Logf("forged key slots %v; the real one is %s", shortIDs(slotIDs(slots)), real.Short())
	return slots
}

func slotIDs(slots []keySlot) []crypto.ID {
	ids := make([]crypto.ID, 0, len(slots))
	for _, ks := range slots {
		ids = append(ids, ks.id)
	}
	return ids
}

// opensWithPassword fails unless the stolen password unwraps ks: a slot
// it does not open would be no attack at all.
func opensWithPassword(t *testing.T, ks keySlot) {
	t.Helper()
	var slot repository.KeySlot
	if err := json.Unmarshal(ks.data, &slot); err != nil {
		t.Fatalf("forged key slot %s: %v", ks.id.Short(), err)
	}
	if _, err := slot.Unwrap([]byte(password)); err != nil {
		t.Fatalf("forged key slot %s does not open with the stolen password: %v", ks.id.Short(), err)
	}
}

// throwawaySlot makes a repository with the stolen password in memory and
// returns its only key slot.
func throwawaySlot(t *testing.T) keySlot {
	t.Helper()
	ctx := t.Context()
	be := mem.New()
	if _, err := repository.Init(ctx, be, []byte(password), testOpts); err != nil {
		t.Fatalf("the attacker makes a repository with the stolen password: %v", err)
	}
	var slots []keySlot
	err := be.List(ctx, backend.KeyFile, func(fi backend.FileInfo) error {
		data, err := be.Load(ctx, backend.Handle{Type: backend.KeyFile, Name: fi.Name}, 0, 0)
		if err != nil {
			return err
		}
		slots = append(slots, keySlot{id: crypto.Hash(data), data: data})
		return nil
	})
	if err != nil || len(slots) != 1 {
		t.Fatalf("the throwaway repository has key slots %v (%v), want one", slots, err)
	}
	return slots[0]
}

// relabelBefore changes the label of ks until its name sorts before real.
func relabelBefore(t *testing.T, ks keySlot, real crypto.ID) keySlot {
	t.Helper()
	var slot repository.KeySlot
	if err := json.Unmarshal(ks.data, &slot); err != nil {
		t.Fatal(err)
	}
	for i := range maxRelabel {
		slot.Label = fmt.Sprintf("cadangan-%d", i)
		data, err := json.Marshal(slot)
		if err != nil {
			t.Fatal(err)
		}
		if id := crypto.Hash(data); id.String() < real.String() {
			return keySlot{id: id, data: data}
		}
	}
	t.Fatalf("no label of %d gives a key slot sorting before the real %s", maxRelabel, real.Short())
	return keySlot{}
}

// plantKeySlots adds the forged slots to layer l with the agent's
// credential from its config. Both layers must accept them: a new file
// named by its hash is exactly what an append credential may add.
func plantKeySlots(t *testing.T, l *layers.Layer, slots []keySlot, f *forged) {
	t.Helper()
	be, err := l.Open(t.Context())
	if err != nil {
		t.Fatalf("the attacker opens layer %s: %v", l.Name, err)
	}
	defer be.Close()
	for _, ks := range slots {
		f.save(t, be, backend.Handle{Type: backend.KeyFile, Name: ks.id.String()}, ks.data)
		f.keySlots = append(f.keySlots, ks.id)
	}
}

// onlyRealKeySlot fails unless the layer's files hold exactly one key slot,
// the agent's (taken before the attacks: forgeKeySlots needs its name).
func onlyRealKeySlot(t *testing.T, layer string, before objects, real crypto.ID) {
	t.Helper()
	var ids []string
	for h := range before {
		if h.Type == backend.KeyFile {
			ids = append(ids, h.Name)
		}
	}
	if len(ids) != 1 || ids[0] != real.String() {
		t.Fatalf("layer %s holds key slots %v before the attacks, want only the agent's %s", layer, ids, real)
	}
}

// keySlotsListed: `lumbung key list` on the layer shows the real slot as
// the one in use and every forged slot beside it, so the admin can see
// them (and remove them with `lumbung key remove`).
func keySlotsListed(t *testing.T, layer string, repo *repository.Repository, hist *history, f *forged) {
	t.Helper()
	keys, err := repo.ListKeys(t.Context())
	if err != nil {
		t.Fatalf("layer %s: key list: %v", layer, err)
	}
	want := append([]crypto.ID{hist.key}, f.keySlots...)
	for _, k := range keys {
		switch {
		case !slices.Contains(want, k.ID):
			t.Errorf("layer %s: key list shows slot %s, neither the agent's nor forged", layer, k.ID.Short())
		case k.Current != (k.ID == hist.key):
			t.Errorf("layer %s: key list marks slot %s current=%v; the real slot is %s", layer, k.ID.Short(), k.Current, hist.key.Short())
		}
	}
	for _, id := range want {
		if !slices.ContainsFunc(keys, func(k repository.KeyInfo) bool { return k.ID == id }) {
			t.Errorf("layer %s: key list does not show slot %s", layer, id.Short())
		}
	}
}

// TestForgedKeySlotsSortFirst covers the rare ways of forgeKeySlots (a
// real slot whose name sorts very low or very high) without the servers:
// one forged slot sorts before the real one, every slot is named by its
// hash and opens with the password.
func TestForgedKeySlotsSortFirst(t *testing.T) {
	for _, real := range []string{
		"0001" + strings.Repeat("ff", crypto.IDSize-2), // relabelled
		"80" + strings.Repeat("00", crypto.IDSize-1),
		strings.Repeat("ff", crypto.IDSize), // none sorts after
	} {
		t.Run(real[:4], func(t *testing.T) {
			id, err := crypto.ParseID(real)
			if err != nil {
				t.Fatal(err)
			}
			slots := forgeKeySlots(t, id)
			if len(slots) == 0 || slots[0].id.String() >= real {
				t.Errorf("no forged slot sorts before %s: %v", id.Short(), shortIDs(slotIDs(slots)))
			}
			for _, ks := range slots {
				if crypto.Hash(ks.data) != ks.id {
					t.Errorf("forged slot %s is not named by its hash", ks.id.Short())
				}
			}
		})
	}
}
