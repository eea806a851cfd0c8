// Package layers is the model of what Lumbung protects and where: datasets
// (paths, or a command's output such as pg_dump) each protected by an ordered
// list of layers (repositories with a role and a media kind). It loads and
// validates the config file, computes the 3-2-1-1-0 status of every dataset,
// and writes and verifies offline exports.
//
// Copying between layers is package replicate's job; this package decides
// what to copy where. It must never put a secret in an error message, a
// status or a log line: credentials stay references (a file or an
// environment variable) until a backend is opened with them.
package layers
