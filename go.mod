module github.com/lumbung-id/lumbung

go 1.26.8

require (
	github.com/klauspost/compress v1.20.3
	github.com/zeebo/blake3 v0.2.4
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require github.com/klauspost/cpuid/v2 v2.0.12 // indirect
