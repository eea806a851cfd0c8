// Package replicate copies snapshots from one repository to another: from
// the layer a backup was written to, to every other layer of its dataset
// (push), or from a lower layer to an upper one on the upper layer's own
// schedule (pull).
//
// Two modes, chosen automatically (see Copy):
//   - mirror: the destination is the same repository (same config, same
//     keys) or empty. Files are copied byte for byte and need no key at all,
//     so a province server can pull from a kabupaten server with only a read
//     token. Every object is checked against its name (BLAKE3 of its bytes)
//     as it arrives; one that fails is never stored.
//   - re-encrypt: the destination is another repository with its own keys.
//     Both are opened with their passwords, the snapshot's trees are walked,
//     blobs missing at the destination are decrypted, re-sealed with the
//     destination's keys and written with its repository writer, and the
//     trees (whose blob ids are keyed per repository) are rewritten.
//
// Whatever the mode, the destination only ever gains files in the order the
// repository format demands (packs, then index files, then snapshots, each
// durable before the next), so an interrupted copy leaves a destination that
// `lumbung check` passes and that the next copy completes, reusing what was
// stored. Replication must never remove or overwrite anything at the
// destination, and never store an object it could not verify.
package replicate
