#!/usr/bin/env bash
# Installs the real servers the integration tests start (internal/testservers):
# today the MinIO S3 server, built from the Go module proxy with `go install`
# at a pinned version into $(go env GOPATH)/bin.
#
# Idempotent: a binary that is already there at the pinned version is kept
# (its embedded module version is read with `go version -m`). Loud: every step
# is printed and any failure stops the script with a non-zero exit, so CI
# fails instead of running without the servers.
#
# Building MinIO from source takes a few minutes on a 2-core machine the
# first time (see docs/s3.md); later runs reuse the binary and Go's caches.
set -euo pipefail

# Pinned MinIO server. It is a Go module without semver tags, so the pin is a
# pseudo-version (commit of 2026-02-12). Change it deliberately, then run the
# S3 tests: internal/testservers relies on single-drive Object Lock and on
# root AssumeRole with a session policy.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

bindir="$(go env GOPATH)/bin"
gobin="$(go env GOBIN)"
if [[ -n "$gobin" ]]; then
  bindir="$gobin"
fi

installed_version() { # binary module -> prints the module version, or nothing
  go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3 }'
}

install_go_binary() { # name module version
  local name=$1 module=$2 version=$3 bin="$bindir/$1"
  local have=""
  if [[ -x "$bin" ]]; then
    have=$(installed_version "$bin" "$module")
  fi
  if [[ "$have" == "$version" ]]; then
    echo "install-test-deps: $name $version already installed at $bin"
    return 0
  fi
  if [[ -n "$have" ]]; then
    echo "install-test-deps: $bin is $module $have, want $version: reinstalling"
  fi
  echo "install-test-deps: go install $module@$version -> $bindir (a few minutes the first time)"
  local start=$SECONDS
  if ! GOBIN="$bindir" CGO_ENABLED=0 go install "$module@$version"; then
    echo "install-test-deps: FAILED: go install $module@$version" >&2
    exit 1
  fi
  have=$(installed_version "$bin" "$module")
  if [[ "$have" != "$version" ]]; then
    echo "install-test-deps: FAILED: $bin reports version '$have' after installing $version" >&2
    exit 1
  fi
  echo "install-test-deps: installed $name $version in $((SECONDS - start))s"
}

install_go_binary minio "$MINIO_MODULE" "$MINIO_VERSION"
