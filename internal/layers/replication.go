package layers

import (
	"fmt"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/replicate"
)

// Outcomes of a replication to one layer.
const (
	OutcomeOK      = "ok"      // the layer received everything asked for
	OutcomeFailed  = "failed"  // the copy could not run or some snapshot failed; Error says why
	OutcomePaused  = "paused"  // the layer's time window closed; the next run continues
	OutcomeSkipped = "skipped" // nothing was attempted (offline layers are written by export)
)

// Replication is the outcome of the last replication (or export) to a
// layer, kept in the State so that status can show a layer that stopped
// receiving copies, and why.
type Replication struct {
	Time    time.Time `json:"time"`
	Outcome string    `json:"outcome"`
	// Error says why the outcome is failed, paused or skipped.
	Error string `json:"error,omitempty"`
	// Snapshot counts by their replicate.Status.
	Copied  int `json:"copied"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	Paused  int `json:"paused"`
	// Objects and Bytes were stored at the layer; Refused objects failed
	// their check at the source.
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Refused int   `json:"refused,omitempty"`
}

// Summary sums up a copy to one layer as a Replication at time at.
func (c LayerCopy) Summary(at time.Time) Replication {
	r := Replication{Time: at.UTC()}
	if res := c.Result; res != nil {
		n := res.Counts()
		r.Copied, r.Skipped, r.Failed, r.Paused = n[replicate.Copied], n[replicate.Skipped], n[replicate.Failed], n[replicate.Paused]
		r.Objects, r.Bytes, r.Refused = res.Objects, res.Bytes, len(res.Refused)
	}
	switch {
	case c.Skipped != "":
		r.Outcome, r.Error = OutcomeSkipped, c.Skipped
	case c.Error != "":
		// Readers already know which layer this is.
		r.Outcome, r.Error = OutcomeFailed, strings.TrimPrefix(c.Error, "layer "+c.Layer+": ")
	case c.Result == nil:
		r.Outcome, r.Error = OutcomeFailed, "nothing was copied"
	case c.Result.Paused:
		r.Outcome, r.Error = OutcomePaused, "outside its replication window; the next run continues"
	case !c.Result.OK():
		r.Outcome, r.Error = OutcomeFailed, resultProblem(c.Result)
	default:
		r.Outcome = OutcomeOK
	}
	return r
}

// resultProblem says why a copy that ran is not complete.
func resultProblem(r *replicate.Result) string {
	for _, s := range r.Snapshots {
		if s.Status == replicate.Failed {
			id := s.ID
			if len(id) > 8 {
				id = id[:8]
			}
			return fmt.Sprintf("snapshot %s: %s", id, s.Reason)
		}
	}
	if len(r.Refused) > 0 {
		return fmt.Sprintf("%d object(s) refused, e.g. %s: %s", len(r.Refused), r.Refused[0].Object, r.Refused[0].Reason)
	}
	return "incomplete"
}

// RecordCopies stores the outcome of copies of dataset (one per layer) in
// the state, as of time at.
func (s *State) RecordCopies(dataset string, copies []LayerCopy, at time.Time) error {
	rs := make(map[string]Replication, len(copies))
	for _, c := range copies {
		rs[c.Layer] = c.Summary(at)
	}
	return s.RecordReplications(dataset, rs)
}
