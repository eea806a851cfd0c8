// Package attacktest holds the attacker test (issue 4, point 6): an
// integration test, against a real repository server (lumbung serve, in
// process, TLS with a pinned self-signed certificate) and a real S3 server
// with Object Lock (MinIO, see internal/testservers), of threat model 1 in
// DESIGN.md: the protected host is fully compromised.
//
// The scenario, as it would happen in a kabupaten:
//
//  1. An operator sets the dataset up as documented: a province repository
//     server with an admin token that stays with the province, an append
//     token for the agent bound to the dataset's repository, an S3 bucket
//     with Object Lock and an agent user whose policy allows no delete and
//     no bucket change, and a layers config with three layers (local disk,
//     regional rest:, offsite s3: with retention).
//  2. The agent makes three backups of a changing tree and replicates each
//     to every layer.
//  3. Ransomware takes the host. The attacker holds everything the host
//     holds: the config, the repository password, the append token and the
//     agent's S3 keys. They try every way to destroy or hide the copies
//     outside the host — DELETE, PUT over existing names, bogus index files
//     and snapshots (validly encrypted: they have the password), key slots
//     of other repositories made with the same password, garbage on S3,
//     shorter retention, removing the bucket or repository, new tokens —
//     and wipe the local layer.
//  4. Every attack on the regional and offsite layers is refused, or (a new
//     S3 version over a key) changes nothing a reader sees; afterwards the
//     password opens each of the two layers with the real key slot, every
//     earlier snapshot restores byte-identical from each, "latest" is the
//     real newest, check names the bogus objects while listing every real
//     snapshot as restorable, and a mirror copy and a re-encrypting copy
//     from each rebuild a local repository that restores.
//
// docs/threat-tests.md lists the attacks, the refusal each must meet and
// where it is enforced. The package has no production code: it must never
// be imported.
package attacktest
