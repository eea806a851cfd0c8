package layers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// ExportReport is the result of VerifyExport.
type ExportReport struct {
	Dir       string        `json:"dir"`
	Dataset   string        `json:"dataset"`
	CreatedAt time.Time     `json:"created_at"`
	Files     int           `json:"files"`
	Bytes     int64         `json:"bytes"`
	Snapshots []SnapshotRef `json:"snapshots"`
	// Problems lists everything wrong, in plain words; empty means the
	// export restores.
	Problems []string        `json:"problems"`
	Check    *checker.Report `json:"check,omitempty"`
}

// OK reports whether the export verified without problems.
func (r *ExportReport) OK() bool { return len(r.Problems) == 0 }

// Newest returns the newest snapshot of the export, or nil.
func (r *ExportReport) Newest() *SnapshotRef {
	var n *SnapshotRef
	for i := range r.Snapshots {
		if n == nil || r.Snapshots[i].Time.After(n.Time) {
			n = &r.Snapshots[i]
		}
	}
	return n
}

// VerifyExport proves an export restores: every file is re-hashed against
// the manifest, then the repository is opened with password and checked
// with read-data (every blob of every snapshot read, authenticated and
// matched to its id), and every snapshot in the manifest must be there.
// It returns an error only when it cannot run at all (no manifest, wrong
// password, cancelled); damage is in the report.
func VerifyExport(ctx context.Context, dir string, password []byte) (*ExportReport, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	rep := &ExportReport{Dir: dir, Dataset: m.Dataset, CreatedAt: m.CreatedAt, Snapshots: m.Snapshots}
	for _, f := range m.Files {
		if !safeManifestPath(f.Path) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("manifest names %q, outside the export's repository: the manifest was tampered with", f.Path))
			continue
		}
		size, sum, err := hashFile(ctx, filepath.Join(dir, filepath.FromSlash(f.Path)))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s is missing", f.Path))
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s cannot be read: %v", f.Path, err))
		case size != f.Size || sum != f.BLAKE3:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s is damaged: its content differs from the manifest (%d bytes, expected %d)", f.Path, size, f.Size))
		default:
			rep.Files++
			rep.Bytes += size
		}
	}
	be, err := local.Open(ctx, filepath.Join(dir, ExportRepoDir))
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the repository cannot be opened: %v", err))
		return rep, nil
	}
	repo, err := repository.Open(ctx, be, password, repository.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the export's repository: %w", err)
	}
	for _, s := range m.Snapshots {
		id, err := crypto.ParseID(s.ID)
		if err == nil {
			_, err = repo.LoadSnapshot(ctx, id)
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("snapshot %s (%s) cannot be read: %v", s.ID, s.Time.Format(time.RFC3339), err))
		}
	}
	chk, err := checker.Check(ctx, repo, checker.Options{ReadData: true})
	if err != nil {
		return nil, fmt.Errorf("check the export's repository: %w", err)
	}
	rep.Check = chk
	for _, p := range chk.Errors {
		rep.Problems = append(rep.Problems, fmt.Sprintf("check: %s %s: %s", p.Kind, p.Object, p.Message))
	}
	return rep, nil
}

// Verification turns the report into a state record.
func (r *ExportReport) Verification(at time.Time) Verification {
	return VerificationFromCheck(at, r.Problems, r.Newest())
}
