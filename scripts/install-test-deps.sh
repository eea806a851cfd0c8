#!/usr/bin/env bash
# Installs the real servers the integration tests start (internal/testservers):
# the MinIO S3 server, built from the Go module proxy with `go install`
# at a pinned version into $(go env GOPATH)/bin, and PostgreSQL (server and
# client programs) from the distribution's `postgresql` package (Debian/Ubuntu,
# apt-get; sudo when not run as root).
#
# Idempotent: a binary that is already there at the pinned version is kept
# (its embedded module version is read with `go version -m`). Loud: every step
# is printed and any failure stops the script with a non-zero exit, so CI
# fails instead of running without the servers.
#
# Building MinIO from source takes a few minutes on a 2-core machine the
# first time (see docs/s3.md); later runs reuse the binary and Go's caches.
# PostgreSQL's package may create and start a cluster of its own (postinst):
# harmless, the tests start their own cluster in a temporary directory.
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

# PostgreSQL: the tests need one directory holding the server (initdb,
# pg_ctl, postgres) and the clients of the same version (pg_dump, pg_restore,
# psql, pg_isready): internal/testservers takes the one of `postgres` on PATH,
# else the newest /usr/lib/postgresql/VERSION/bin. Keep PG_TOOLS in step with
# pgTools in internal/testservers/postgres.go.
PG_TOOLS=(initdb pg_ctl postgres pg_isready psql pg_dump pg_restore)

pg_complete() { # dir -> true when it holds every PG_TOOLS program
  local t
  for t in "${PG_TOOLS[@]}"; do
    [[ -f "$1/$t" && -x "$1/$t" ]] || return 1
  done
}

pg_bindir() { # prints the directory the tests will use, or nothing
  local p d
  if p=$(command -v postgres 2>/dev/null) && p=$(readlink -f "$p") && pg_complete "$(dirname "$p")"; then
    dirname "$p"
    return
  fi
  while read -r d; do
    if [[ -n "$d" ]] && pg_complete "$d"; then
      echo "$d"
      return
    fi
  done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -t/ -k5,5 -V -r)
}

apt_get() { # apt-get as root, noninteractive
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "install-test-deps: FAILED: not root and no sudo: cannot run apt-get $*" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

install_postgresql() {
  local dir
  dir=$(pg_bindir)
  if [[ -n "$dir" ]]; then
    echo "install-test-deps: PostgreSQL already installed in $dir ($("$dir/postgres" --version))"
    return 0
  fi
  if ! command -v apt-get >/dev/null; then
    echo "install-test-deps: FAILED: PostgreSQL (${PG_TOOLS[*]}) is missing and there is no apt-get: install the PostgreSQL server and client programs" >&2
    exit 1
  fi
  echo "install-test-deps: PostgreSQL missing: apt-get install postgresql"
  local start=$SECONDS
  if ! apt_get install -y -q postgresql; then
    echo "install-test-deps: apt-get install failed: apt-get update, then again"
    if ! apt_get update -q || ! apt_get install -y -q postgresql; then
      echo "install-test-deps: FAILED: apt-get install postgresql" >&2
      exit 1
    fi
  fi
  dir=$(pg_bindir)
  if [[ -z "$dir" ]]; then
    echo "install-test-deps: FAILED: after installing postgresql, no directory holds ${PG_TOOLS[*]}" >&2
    exit 1
  fi
  echo "install-test-deps: installed PostgreSQL in $dir in $((SECONDS - start))s ($("$dir/postgres" --version))"
}

install_postgresql
