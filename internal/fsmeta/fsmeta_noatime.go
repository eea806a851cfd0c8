//go:build unix && !linux

package fsmeta

// oNoatime is Linux-only.
const oNoatime = 0
