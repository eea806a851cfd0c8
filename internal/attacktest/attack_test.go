package attacktest

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/testservers"
)

// TestAttackerCannotDestroyCopies is the attacker test of issue 4 (point
// 6; the scenario is in the package comment, the table of attacks in
// docs/threat-tests.md). It is not parallel: the agent's S3 keys are in
// the environment, where its config refers to them.
func TestAttackerCannotDestroyCopies(t *testing.T) {
	// The operator's set-up. The S3 server first: without it (-short, or
	// MinIO not installed) the test skips before starting anything else.
	s3srv := testservers.S3(t)
	reg := startRegional(t)
	bucket := s3srv.Bucket(t, true)
	h, d := setUpHost(t, reg, s3srv, bucket)
	localLayer, regionalLayer, offsiteLayer := d.Layers[0], d.Layers[1], d.Layers[2]
	if localLayer.Name != "lokal" || regionalLayer.Name != "provinsi" || offsiteLayer.Name != "s3" {
		t.Fatalf("layers %s, %s, %s: the config changed", localLayer.Name, regionalLayer.Name, offsiteLayer.Name)
	}

	// The agent's daily work: three backups of a changing tree, each
	// replicated to every layer.
	hist := backUpAndReplicate(t, h, d)

	// Another host of the dataset is backing up to the province right now.
	lockByAnotherWriter(t, reg)

	// What the province and the bucket owner hold, read with their own
	// credentials before anything happens.
	regionalBefore := inventory(t, regionalReader(t, reg))
	offsiteBefore := inventory(t, offsiteReader(t, s3srv, bucket))
	owner := s3srv.Client(t, s3srv.Root())
	truth := trueVersions(t, owner, bucket, offsiteBefore)
	t.Logf("regional layer holds %s; offsite layer holds %s", regionalBefore, offsiteBefore)
	onlyRealKeySlot(t, regionalLayer.Name, regionalBefore, hist.key)
	onlyRealKeySlot(t, offsiteLayer.Name, offsiteBefore, hist.key)
	prepareOtherRepo(t, reg, regionalBefore)

	// The host falls. The attacker adds validly encrypted bogus objects
	// (they have the password) to both layers, with the agent's
	// credentials — adding is allowed, hiding must not work...
	regionalForged := forge(t, regionalLayer, hist)
	offsiteForged := forge(t, offsiteLayer, hist)
	plantGarbage(t, s3srv, bucket, h, offsiteForged)
	// Key slots of throwaway repositories made with the stolen password:
	// one sorts before the real slot, so it is the first the password
	// opens.
	slots := forgeKeySlots(t, hist.key)
	plantKeySlots(t, regionalLayer, slots, regionalForged)
	plantKeySlots(t, offsiteLayer, slots, offsiteForged)
	// ...and tries to destroy what is there.
	t.Run("regional", func(t *testing.T) {
		t.Run("raw HTTP", func(t *testing.T) { attackRegionalRaw(t, reg, h, regionalBefore, regionalForged) })
		t.Run("rest backend", func(t *testing.T) { attackRegionalBackend(t, regionalLayer, regionalBefore) })
		t.Run("audit log", func(t *testing.T) { checkAudit(t, reg, h) })
	})
	t.Run("offsite", func(t *testing.T) {
		t.Run("raw S3", func(t *testing.T) { attackOffsiteRaw(t, s3srv, bucket, h, truth, offsiteForged) })
		t.Run("s3 backend", func(t *testing.T) { attackOffsiteBackend(t, offsiteLayer, offsiteBefore) })
		t.Run("true versions", func(t *testing.T) { checkTrueVersions(t, owner, bucket, truth) })
	})
	// The host's own copy is lost: only the other layers can help now.
	wipeLocal(t, h)

	// The recovery, from each layer alone, with fresh clients. Each step
	// is a subtest of its own: one that cannot even open the layer must
	// not hide whether the others can.
	t.Run("restore from regional", func(t *testing.T) {
		be := regionalReader(t, reg)
		stillThere(t, regionalLayer.Name, regionalBefore, inventory(t, be))
		t.Run("open and restore", func(t *testing.T) { restoresEverything(t, regionalLayer.Name, be, h.src, hist, regionalForged) })
		t.Run("rebuild a local layer", func(t *testing.T) { rebuildFrom(t, regionalLayer.Name, be, h, hist, regionalForged) })
		t.Run("re-encrypt under a new password", func(t *testing.T) { reencryptFrom(t, regionalLayer.Name, be, h, hist, regionalForged) })
	})
	t.Run("restore from offsite", func(t *testing.T) {
		be := offsiteReader(t, s3srv, bucket)
		stillThere(t, offsiteLayer.Name, offsiteBefore, inventory(t, be))
		t.Run("open and restore", func(t *testing.T) { restoresEverything(t, offsiteLayer.Name, be, h.src, hist, offsiteForged) })
		t.Run("rebuild a local layer", func(t *testing.T) { rebuildFrom(t, offsiteLayer.Name, be, h, hist, offsiteForged) })
		t.Run("re-encrypt under a new password", func(t *testing.T) { reencryptFrom(t, offsiteLayer.Name, be, h, hist, offsiteForged) })
	})
}
