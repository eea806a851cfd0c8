package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Limits on what one problem carries, so that a badly damaged repository
// gives a readable report in bounded memory.
const (
	maxFilesListed  = 20     // paths in Problem.Files
	maxFilesInText  = 3      // paths quoted in Problem.Message
	maxFilesCounted = 100000 // distinct paths counted per problem
	maxSnapsInText  = 5      // snapshot ids quoted in Problem.Message
	maxSnapsCounted = 10000  // distinct snapshots counted per problem
	maxReasons      = 8      // distinct reasons kept per problem
)

// damage is one error in the making: something the repository cannot
// restore, with the files and snapshots found to depend on it. The message
// is assembled at the end, once the tree walks have named the files.
type damage struct {
	kind, object string
	// head is the first part of the message, built from the reasons by
	// the function that made the damage (see finish).
	head func(d *damage) string
	// tail is the advice given when files are affected.
	tail string
	// noFiles is said when no snapshot uses the damaged data.
	noFiles string
	// maybe: the affected files were not proven damaged, only at risk.
	maybe bool
	// all: every blob the index places in the pack is affected (the pack
	// is missing, or its header is unreadable and its data was not read).
	all bool
	// unindexed: the damaged pack is in no index.
	unindexed bool

	reasons []string
	blobs   map[crypto.ID]struct{} // damaged blobs (blob-level damage)
	// Index entries a pack's header contradicts (a few, to find the index
	// files holding them) and those index files, once found (see blame).
	wrongPlaces []placeKey
	culprits    []crypto.ID
	total       int // blobs in the damaged object, when known
	dupes       int // damaged blobs that also have an indexed copy elsewhere

	files      []string
	fileSet    map[string]struct{}
	nfiles     int
	ndirs      int // of nfiles, directories (paths ending in "/")
	snaps      []string
	snapSet    map[string]struct{}
	incomplete bool
}

func (d *damage) addReason(r string) {
	for _, x := range d.reasons {
		if x == r {
			return
		}
	}
	if len(d.reasons) < maxReasons {
		d.reasons = append(d.reasons, r)
	}
}

func (d *damage) addBlob(id crypto.ID) {
	if d.blobs == nil {
		d.blobs = make(map[crypto.ID]struct{})
	}
	d.blobs[id] = struct{}{}
}

// addFile records that path in snapshot snap depends on the damage.
func (d *damage) addFile(path string, snap crypto.ID) {
	if d.fileSet == nil {
		d.fileSet = make(map[string]struct{})
		d.snapSet = make(map[string]struct{})
	}
	if _, ok := d.fileSet[path]; !ok {
		if len(d.fileSet) < maxFilesCounted {
			d.fileSet[path] = struct{}{}
			d.nfiles++
			if strings.HasSuffix(path, "/") {
				d.ndirs++
			}
			if len(d.files) < maxFilesListed {
				d.files = append(d.files, path)
			}
		} else {
			d.incomplete = true
		}
	}
	s := snap.Short()
	if _, ok := d.snapSet[s]; !ok {
		if len(d.snapSet) < maxSnapsCounted {
			d.snapSet[s] = struct{}{}
			d.snaps = append(d.snaps, s)
		} else {
			d.incomplete = true
		}
	}
}

// problem turns the damage into its final, readable form.
func (d *damage) problem() Problem {
	var b strings.Builder
	b.WriteString(d.head(d))
	if d.nfiles == 0 {
		if d.noFiles != "" {
			b.WriteString("; ")
			b.WriteString(d.noFiles)
		}
	} else {
		b.WriteString("; ")
		verb := "affected"
		if d.maybe {
			verb = "at risk"
		}
		more := ""
		if d.incomplete {
			more = " or more"
		}
		fmt.Fprintf(&b, "%s%s %s in %s: ", countPaths(d.nfiles-d.ndirs, d.ndirs), more, verb, listSnaps(d.snaps, len(d.snapSet)))
		n := min(len(d.files), maxFilesInText)
		b.WriteString(strings.Join(d.files[:n], ", "))
		if d.nfiles > n {
			fmt.Fprintf(&b, " and %d more", d.nfiles-n)
		}
		if d.tail != "" {
			b.WriteString(" — ")
			b.WriteString(d.tail)
		}
	}
	var files []string
	if len(d.files) > 0 {
		files = append(files, d.files...)
		if d.nfiles > len(d.files) || d.incomplete {
			more := fmt.Sprintf("(+%d more)", d.nfiles-len(d.files))
			if d.incomplete {
				more = fmt.Sprintf("(+%d or more)", d.nfiles-len(d.files))
			}
			files = append(files, more)
		}
	}
	return Problem{Kind: d.kind, Object: d.object, Message: b.String(), Files: files}
}

func listSnaps(snaps []string, n int) string {
	if n == 1 {
		return "snapshot " + snaps[0]
	}
	k := min(len(snaps), maxSnapsInText)
	s := "snapshots " + strings.Join(snaps[:k], ", ")
	if n > k {
		s += fmt.Sprintf(" and %d more", n-k)
	}
	return s
}

// joinReasons joins reasons, which may contain commas themselves.
func joinReasons(rs []string) string { return strings.Join(rs, "; ") }

// countPaths says "2 files", "1 directory", "3 files and 1 directory".
func countPaths(files, dirs int) string {
	switch {
	case dirs == 0:
		return plural(files, "file", "files")
	case files == 0:
		return plural(dirs, "directory", "directories")
	}
	return plural(files, "file", "files") + " and " + plural(dirs, "directory", "directories")
}

// problems sorts the damages into report order: by kind, then object.
func sortProblems(ps []Problem) {
	rank := map[string]int{"config": 0, "key": 1, "index": 2, "pack": 3, "snapshot": 4, "tree": 5, "blob": 6, "lock": 7}
	sort.SliceStable(ps, func(i, j int) bool {
		ri, rj := rank[ps[i].Kind], rank[ps[j].Kind]
		if ri != rj {
			return ri < rj
		}
		if ps[i].Object != ps[j].Object {
			return ps[i].Object < ps[j].Object
		}
		return ps[i].Message < ps[j].Message
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
