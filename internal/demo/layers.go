package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// layered is the second part of the demo: layers 2 and 3, the 3-2-1-1-0
// status, and the restore from the server after the local repository is
// gone. The server is stopped and the token file removed before it
// returns, whatever happens.
func (r *run) layered(ctx context.Context, l1 *localResult) (err error) {
	srv, token, err := startServer(ctx, r.serverDir, tokenName, serverRepo)
	if err != nil {
		return err
	}
	tokPath := filepath.Join(r.o.Dir, tokenFile)
	defer func() {
		os.Remove(tokPath) // the token is worthless once the server stops, but keep no secret lying around
		if serr := srv.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := writeSecret(tokPath, token); err != nil {
		return err
	}
	pwPath := filepath.Join(r.o.Dir, passwordFile)
	if err := writeSecret(pwPath, demoPassword); err != nil {
		return err
	}
	serverLoc := srv.location(serverRepo)
	r.sayMore("serve", fmt.Sprintf("Lapisan 2, server repositori dijalankan / layer 2, a repository server (lumbung serve) started on loopback: %s", serverLoc),
		map[string]any{"location": serverLoc, "fingerprint": srv.fingerprint, "token_name": tokenName, "token_scope": "append", "data": r.serverDir},
		[]string{
			fmt.Sprintf("sertifikat self-signed dipin / self-signed certificate pinned: %s", srv.fingerprint),
			fmt.Sprintf("token append %q (bisa menambah, tidak bisa menghapus / can add, never delete) in %s, removed when the demo ends", tokenName, tokPath),
			fmt.Sprintf("data server (hanya ciphertext / ciphertext only): %s", r.serverDir),
		})

	cfgPath := filepath.Join(r.o.Dir, configFile)
	d, err := writeConfig(cfgPath, r.src, r.repoDir, serverLoc, r.exportDir, pwPath, tokPath)
	if err != nil {
		return err
	}
	r.say("config", fmt.Sprintf("Konfigurasi lapisan / layers config: dataset %s with layers %s, %s, %s in %s", datasetName, layerLocal, layerServer, layerOffline, cfgPath),
		map[string]any{"config": cfgPath, "dataset": datasetName, "layers": []string{layerLocal, layerServer, layerOffline}})
	state, err := layers.OpenState(layers.StatePath(r.o.Dir, cfgPath))
	if err != nil {
		return err
	}
	newest := &layers.SnapshotRef{ID: l1.latest.ID.String(), Time: l1.latest.Snapshot.Time}
	if err := state.Record(datasetName, layerLocal, layers.VerificationFromCheck(time.Now(), problems(l1.check), newest)); err != nil {
		return err
	}

	if err := r.replicate(ctx, d, state, newest); err != nil {
		return err
	}
	if err := r.export(ctx, d, state); err != nil {
		return err
	}
	if err := r.status(ctx, d, state); err != nil {
		return err
	}
	if err := r.ransomware(ctx, d, l1); err != nil {
		return err
	}
	exportRepo := filepath.Join(r.exportDir, layers.ExportRepoDir)
	r.say("done", fmt.Sprintf("Selesai / done. Everything is in %s (the demo's server stops now). Try: LUMBUNG_PASSWORD=%s go run ./cmd/lumbung snapshots --repo %s",
		r.o.Dir, demoPassword, exportRepo),
		map[string]any{"dir": r.o.Dir, "config": cfgPath, "export": exportRepo})
	return nil
}

// replicate copies the dataset to the server layer with the append token,
// then verifies every byte there.
func (r *run) replicate(ctx context.Context, d *layers.Dataset, state *layers.State, newest *layers.SnapshotRef) error {
	start := time.Now()
	copies := layers.ReplicateDataset(ctx, d, layers.CopyOptions{})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replicate to layer %s: %w", layerServer, err)
	}
	for _, c := range copies {
		if !c.OK() {
			why := c.Error
			if why == "" {
				why = "some snapshots were not copied"
			}
			return fmt.Errorf("replicate to layer %s: %s", c.Layer, why)
		}
	}
	for _, c := range copies {
		if c.Layer != layerServer || c.Result == nil {
			continue
		}
		res := c.Result
		r.say("replicate", fmt.Sprintf("Replikasi ke lapisan %s / replicated to layer %s (%s mode): %d snapshots, %d files, %s over TLS, %s",
			layerServer, layerServer, res.Mode, len(res.Snapshots), res.Objects, ui.FormatBytes(res.Bytes), time.Since(start).Round(time.Millisecond)),
			map[string]any{"layer": layerServer, "result": res})
	}

	rep, err := checkLayer(ctx, d.Layers[1])
	if err != nil {
		return err
	}
	probs := problems(rep)
	if err := state.Record(datasetName, layerServer, layers.VerificationFromCheck(time.Now(), probs, newest)); err != nil {
		return err
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: check of layer %s: %s", ErrVerifyFailed, layerServer, probs[0])
	}
	r.say("check-server", fmt.Sprintf("Pemeriksaan lapisan %s / check of layer %s: %d packs read through the server and verified, no errors", layerServer, layerServer, rep.PacksRead),
		map[string]any{"layer": layerServer, "packs": rep.Packs, "bytes_read": rep.BytesRead})
	return nil
}

// export writes the offline layer and proves it restores.
func (r *run) export(ctx context.Context, d *layers.Dataset, state *layers.State) error {
	l := d.Layers[2]
	res, err := layers.ExportLayer(ctx, d, l, r.o.Version, nil)
	if err != nil {
		return err
	}
	var bytes int64
	for _, f := range res.Manifest.Files {
		bytes += f.Size
	}
	r.say("export", fmt.Sprintf("Lapisan 3, ekspor offline / layer 3, offline export written to %s: %d snapshots, %d files, %s, with a manifest (on a real site: a removable disk, unplugged afterwards)",
		l.Repository, len(res.Manifest.Snapshots), len(res.Manifest.Files), ui.FormatBytes(bytes)),
		map[string]any{"layer": layerOffline, "dir": l.Repository, "snapshots": len(res.Manifest.Snapshots), "files": len(res.Manifest.Files), "bytes": bytes})

	rep, err := layers.VerifyExport(ctx, l.Repository, []byte(demoPassword))
	if err != nil {
		return err
	}
	if err := state.Record(datasetName, layerOffline, rep.Verification(time.Now())); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%w: verification of the export in %s: %s", ErrVerifyFailed, l.Repository, rep.Problems[0])
	}
	r.say("export-verify", fmt.Sprintf("Ekspor terverifikasi / export verified: %d files match the manifest, every blob read and authenticated", rep.Files),
		map[string]any{"layer": layerOffline, "files": rep.Files, "bytes": rep.Bytes})
	return nil
}

// ransomware deletes the local repository, as an attacker on the host
// would, and restores the newest snapshot from the server layer.
func (r *run) ransomware(ctx context.Context, d *layers.Dataset, l1 *localResult) error {
	if err := os.RemoveAll(r.repoDir); err != nil {
		return fmt.Errorf("delete the local repository: %w", err)
	}
	r.say("ransomware", fmt.Sprintf("Simulasi ransomware / simulated ransomware: the local repository %s is deleted", r.repoDir),
		map[string]any{"deleted": r.repoDir})

	l := d.Layers[1]
	be, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("restore from layer %s: %w", l.Name, err)
	}
	defer be.Close()
	// The server holds no key: the password comes from the admin (layer
	// 2 is a mirror of layer 1, so it is the same password).
	repo, err := repository.Open(ctx, be, []byte(demoPassword), repository.Options{})
	if err != nil {
		return fmt.Errorf("open layer %s: %w", l.Name, err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		return fmt.Errorf("load the index of layer %s: %w", l.Name, err)
	}
	sn, err := repo.FindSnapshot(ctx, "latest", repository.SnapshotFilter{Dataset: datasetName})
	if err != nil {
		return fmt.Errorf("find the newest snapshot on layer %s: %w", l.Name, err)
	}
	if sn.ID != l1.latest.ID {
		return fmt.Errorf("%w: the newest snapshot on layer %s is %s, not %s", ErrVerifyFailed, l.Name, sn.ID.Short(), l1.latest.ID.Short())
	}
	res, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: r.serverTarget})
	if err != nil {
		return fmt.Errorf("restore from layer %s: %w", l.Name, err)
	}
	r.say("restore-server", fmt.Sprintf("Dipulihkan dari lapisan %s / restored from layer %s, the repository server: snapshot %s, %d files (%s) to %s",
		l.Name, l.Name, sn.ID.Short(), res.Files, ui.FormatBytes(res.Bytes), r.serverTarget),
		map[string]any{"layer": l.Name, "location": l.Repository, "snapshot": sn.ID.String(), "files": res.Files, "bytes": res.Bytes, "target": r.serverTarget})

	n, err := compareTrees(r.src, restoredPath(r.serverTarget, r.src))
	if err != nil {
		return err
	}
	r.say("verify-server", fmt.Sprintf("Terverifikasi / verified: %d files restored from the server identical byte for byte to the original; the local repository was not needed", n),
		map[string]any{"layer": l.Name, "files": n})
	return nil
}

// checkLayer reads and verifies every byte of a mirror layer with the
// first layer's password.
func checkLayer(ctx context.Context, l *layers.Layer) (*checker.Report, error) {
	be, err := l.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer be.Close()
	repo, err := repository.Open(ctx, be, []byte(demoPassword), repository.Options{})
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", l.Name, err)
	}
	rep, err := checker.Check(ctx, repo, checker.Options{ReadData: true})
	if err != nil {
		return nil, fmt.Errorf("check layer %s: %w", l.Name, err)
	}
	return rep, nil
}

// problems lists a check's errors in words, for the layers state.
func problems(rep *checker.Report) []string {
	var out []string
	for _, p := range rep.Errors {
		out = append(out, fmt.Sprintf("%s %s: %s", p.Kind, p.Object, p.Message))
	}
	return out
}
