package attacktest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// rebuildFrom is the admin's next step after the incident: a new local
// layer copied from a surviving one (`lumbung copy`), as a mirror of
// everything the dataset has there, then restored. Every real snapshot
// must arrive; what fails to copy must be the attacker's.
func rebuildFrom(t *testing.T, layer string, src backend.Backend, h *host, hist *history, f *forged) {
	ctx := t.Context()
	dst, err := local.Create(ctx, filepath.Join(t.TempDir(), "siak"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res, err := replicate.Copy(ctx, src, dst, replicate.Options{Mode: replicate.ModeMirror, SrcPassword: []byte(password), Dataset: dataset})
	if err != nil {
		t.Fatalf("layer %s: mirror copy to a new local layer: %v", layer, err)
	}
	forgedName := func(s string) bool {
		return slices.ContainsFunc(f.ids(), func(id crypto.ID) bool { return strings.Contains(s, id.String()) })
	}
	for _, s := range res.Snapshots {
		real := slices.ContainsFunc(hist.ids, func(id crypto.ID) bool { return id.String() == s.ID })
		switch {
		case real && s.Status != replicate.Copied:
			t.Errorf("layer %s: real snapshot %s was not copied to the new layer: %s %s", layer, s.ID, s.Status, s.Reason)
		case !real && !forgedName(s.ID):
			t.Errorf("layer %s: the copy reports snapshot %s, neither real nor forged", layer, s.ID)
		case !real:
			t.Logf("layer %s: forged snapshot %s: %s %s", layer, s.ID[:8], s.Status, s.Reason)
		}
	}
	for _, r := range res.Refused {
		if !forgedName(r.Object) {
			t.Errorf("layer %s: the copy refused %s, which the attacker did not forge: %+v", layer, r.Object, r)
		}
	}
	layer = "new local from " + layer
	repo := openLayer(t, layer, dst, hist, f)
	restoreAll(t, layer, repo, h.src, hist)
	latestIsReal(t, layer, repo, hist)
}

// reencryptFrom copies the real snapshots into a repository with a new
// password (the old one was stolen with the host) and restores them there.
// The source holds forged key slots, which its opening must pass over, and
// on S3 garbage index files, which the copy must pass over and report as
// refused; nothing else may be refused.
func reencryptFrom(t *testing.T, layer string, src backend.Backend, h *host, hist *history, f *forged) {
	ctx := t.Context()
	dst, err := local.Create(ctx, filepath.Join(t.TempDir(), "siak"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	newPW := []byte("kata-sandi-baru")
	if _, err := repository.Init(ctx, dst, newPW, testOpts); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, id := range hist.ids {
		ids = append(ids, id.String())
	}
	res, err := replicate.Copy(ctx, src, dst, replicate.Options{Mode: replicate.ModeReencrypt, SrcPassword: []byte(password), DstPassword: newPW, Snapshots: ids})
	if err != nil {
		t.Fatalf("layer %s: re-encrypting copy of the real snapshots (the attacker added key slots %v and garbage index files %v): %v",
			layer, shortIDs(f.keySlots), shortIDs(f.plantedIndex), err)
	}
	if res.Paused {
		t.Fatalf("layer %s: the re-encrypting copy paused: %+v", layer, res)
	}
	var garbage []string
	for _, id := range f.plantedIndex {
		garbage = append(garbage, backend.Handle{Type: backend.IndexFile, Name: id.String()}.String())
	}
	for _, r := range res.Refused {
		if !slices.Contains(garbage, r.Object) {
			t.Errorf("layer %s: the re-encrypting copy refused %s, which the attacker did not plant: %s", layer, r.Object, r.Reason)
		}
	}
	for _, g := range garbage {
		if !slices.ContainsFunc(res.Refused, func(r replicate.Refused) bool { return r.Object == g }) {
			t.Errorf("layer %s: the re-encrypting copy does not report the garbage index file %s as refused: %+v", layer, g, res.Refused)
		}
	}
	repo, err := repository.Open(ctx, dst, newPW, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		j := slices.IndexFunc(res.Snapshots, func(s replicate.SnapshotResult) bool { return s.ID == id })
		if j < 0 || res.Snapshots[j].Status != replicate.Copied {
			t.Errorf("layer %s: real snapshot %s was not re-encrypted: %+v", layer, id[:8], res.Snapshots)
			continue
		}
		dstID, err := crypto.ParseID(res.Snapshots[j].DestID)
		if err != nil {
			t.Fatalf("layer %s: re-encrypted snapshot %s: %v", layer, id[:8], err)
		}
		restoreOne(t, "re-encrypted from "+layer, repo, dstID, h.src, hist.trees[i])
	}
	if len(res.Snapshots) != len(ids) {
		t.Errorf("layer %s: the re-encrypting copy reports %d snapshots, want the %d real ones asked for: %+v", layer, len(res.Snapshots), len(ids), res.Snapshots)
	}
}
