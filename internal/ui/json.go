package ui

import (
	"encoding/json"
	"io"
	"math"
	"time"
)

// jsonInterval is how often a status message is written.
const jsonInterval = time.Second

// StatusMessage is the JSON form of a progress update, written by NewJSON.
type StatusMessage struct {
	MessageType      string  `json:"message_type"` // "status"
	Op               string  `json:"op"`
	PercentDone      float64 `json:"percent_done"` // 0..1; 0 while totals are unknown
	FilesDone        int64   `json:"files_done"`
	TotalFiles       int64   `json:"total_files"`
	DirsDone         int64   `json:"dirs_done"`
	TotalDirs        int64   `json:"total_dirs"`
	BytesDone        int64   `json:"bytes_done"`
	TotalBytes       int64   `json:"total_bytes"`
	SecondsElapsed   int64   `json:"seconds_elapsed"`
	SecondsRemaining *int64  `json:"seconds_remaining,omitempty"` // absent while unknown
	CurrentFile      string  `json:"current_file,omitempty"`
	Warnings         int64   `json:"warnings,omitempty"`
}

// WarningMessage is the JSON form of Progress.Warn.
type WarningMessage struct {
	MessageType string `json:"message_type"` // "warning"
	Path        string `json:"path"`
	Error       string `json:"error"`
}

// NewJSON returns a Progress that writes one JSON object per line to w: a
// StatusMessage at most once per second while the operation runs and once
// more at Finish (none at all if Start was never called), and a
// WarningMessage for each Warn as it happens.
func NewJSON(w io.Writer) Progress {
	return newJSON(w, options{})
}

func newJSON(w io.Writer, o options) *jsonProgress {
	if o.interval == 0 {
		o.interval = jsonInterval
	}
	j := &jsonProgress{meter: meter{interval: o.interval, tr: newTracker(o.now)}, w: w}
	j.meter.tick = j.tick
	return j
}

type jsonProgress struct {
	meter
	w io.Writer
}

func (j *jsonProgress) Warn(path string, err error) {
	msg := WarningMessage{MessageType: "warning", Path: path}
	if err != nil {
		msg.Error = err.Error()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tr.warnings++
	j.write(msg)
}

func (j *jsonProgress) Finish() {
	if !j.stop() {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.tr.started {
		// The operation never began (it failed first, e.g. reading the
		// snapshot to restore): a status of an unnamed operation with zero
		// counters would only mislead scripts.
		return
	}
	j.write(statusMessage(j.tr.status()))
}

func (j *jsonProgress) tick() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.finished && j.tr.started {
		j.write(statusMessage(j.tr.status()))
	}
}

// write encodes v as one line. Callers hold j.mu. Write errors are dropped:
// progress output must never fail the operation it reports on.
func (j *jsonProgress) write(v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		return
	}
	j.w.Write(append(buf, '\n'))
}

func statusMessage(s status) StatusMessage {
	m := StatusMessage{
		MessageType:    "status",
		Op:             s.op,
		FilesDone:      s.done.Files,
		TotalFiles:     s.total.Files,
		DirsDone:       s.done.Dirs,
		TotalDirs:      s.total.Dirs,
		BytesDone:      s.done.Bytes,
		TotalBytes:     s.total.Bytes,
		SecondsElapsed: int64(s.elapsed / time.Second),
		CurrentFile:    s.item,
		Warnings:       s.warnings,
	}
	if s.percent >= 0 {
		// Four decimals are plenty and keep the lines short.
		m.PercentDone = math.Round(s.percent*1e4) / 1e4
	}
	if s.remaining >= 0 {
		r := int64(s.remaining.Round(time.Second) / time.Second)
		m.SecondsRemaining = &r
	}
	return m
}
