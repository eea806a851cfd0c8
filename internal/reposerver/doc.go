// Package reposerver is the Lumbung repository server (`lumbung serve`): the
// regional layer that receives encrypted repositories from the hosts below it
// over HTTPS.
//
// The server exists so that a fully compromised host cannot destroy the copy
// it pushed: every request carries a token with a scope (read, append,
// admin) bound to one repository, and the server — never the client —
// enforces it. An append token can add objects and read, but cannot delete
// or change any stored byte: every name except the config must be the
// BLAKE3-256 of its body, a name that exists is never overwritten, and the
// only thing it may remove is a lock object it wrote itself. Refusals are
// written to an audit log with the token's name (never the token).
//
// The server stores ciphertext only: it never sees a repository key and must
// never need one. Each repository is kept through a backend.Backend (a local
// directory by default, see Store), so the server itself knows nothing of
// the repository format beyond names and types.
//
// The server can also pull: copy a repository from a lower layer's server
// on its own schedule, with a read token there and no key (AddPull).
//
// Data directory layout:
//
//	DATA/repos/<name>/        one repository (the local backend's layout)
//	DATA/server/tokens.json   tokens, stored as SHA-256 hashes (0600)
//	DATA/server/state.json    per-token usage and lock ownership (0600)
//	DATA/server/tls.crt, tls.key   the generated certificate (0600 key)
//	DATA/server/audit.log     refused attempts, one JSON line each
//	DATA/server/uploads/      temporary data of upload sessions
//	DATA/server/pull-state.json   the status of the pull jobs (pull.go)
package reposerver
