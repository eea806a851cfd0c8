package restorer

import (
	"errors"
	"io"

	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// keepIdentical reports whether the target already holds file n, in
// directory dir, with the snapshot's content; if so its metadata is set
// and it counts as restored (Options.SkipIdentical: a restore run again
// after an interruption only does what is left). The content is checked,
// never assumed from size and times (ransomware may keep those): the file
// is cut into chunks as a backup would and each chunk's id compared with
// n's blobs, stopping at the first that differs.
func (r *restorer) keepIdentical(dir *dirRef, n *repository.Node) (kept bool) {
	if n.Error != "" {
		return false
	}
	h, err := r.openExisting(dir, n.Name, int64(n.Size))
	if err != nil || h == nil {
		return false // absent, not a regular file of that size, or unreadable: restored as usual
	}
	defer func() {
		if cerr := h.close(); cerr != nil && kept {
			r.report(dir.snap+"/"+n.Name, cerr)
		}
	}()
	if !r.sameContent(h, n) {
		return false
	}
	if err := h.setMeta(r, metaOf(n)); err != nil {
		r.report(dir.snap+"/"+n.Name, err)
	}
	r.files.Add(1)
	r.kept.Add(1)
	r.bytes.Add(int64(n.Size))
	r.prog.Add(ui.Counts{Files: 1, Bytes: int64(n.Size)})
	return true
}

// sameContent reports whether rd holds exactly the blobs of n, in order.
// It runs on the walker's goroutine, whose chunker and chunk buffer
// identCk and identBuf are (a chunker's buffer is megabytes: one per file
// would make checking small files slower than writing them).
func (r *restorer) sameContent(rd io.Reader, n *repository.Node) bool {
	if r.identCk == nil {
		r.identCk = chunker.New(rd, r.repo.ChunkerTable(), r.repo.ChunkerParams())
	} else {
		r.identCk.Reset(rd)
	}
	ck := r.identCk
	for i := 0; ; i++ {
		data, err := ck.Next(r.identBuf[:0])
		r.identBuf = data
		if errors.Is(err, io.EOF) {
			return i == len(n.Content)
		}
		if err != nil || i >= len(n.Content) || r.repo.BlobID(data) != n.Content[i] {
			return false
		}
	}
}

// existing is a file already in the target, open for reading (and for
// setting its metadata through the descriptor where that is possible).
type existing interface {
	io.Reader
	setMeta(r *restorer, m meta) error
	close() error
}
