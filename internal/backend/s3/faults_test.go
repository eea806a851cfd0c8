package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

// corrupting flips one byte of the body of every object PUT, as a bad
// link or a buggy proxy would.
type corrupting struct {
	base http.RoundTripper
	n    atomic.Int64 // PUTs corrupted
}

func (c *corrupting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Body != nil && req.ContentLength > 0 && req.URL.Query().Get("retention") == "" {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		data[len(data)/2] ^= 0x01
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(data))
		c.n.Add(1)
	}
	return c.base.RoundTrip(req)
}

// TestCorruptedUploadFails: a Save whose bytes change on the way is refused
// by the server (Content-MD5 and the signed payload hash) and leaves no
// file under the name.
func TestCorruptedUploadFails(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	bucket := srv.Bucket(t, true)
	tr := &corrupting{base: s3.NewTransport()}
	cfg := config(srv, bucket, "rusak", srv.Root())
	cfg.Transport, cfg.MaxRetries = tr, 1
	b := create(t, cfg)
	h := backend.Handle{Type: backend.PackFile, Name: backendtest.Name("corrupt")}
	if err := b.Save(t.Context(), h, backendtest.Data(5, 100<<10)); err == nil {
		t.Fatal("Save succeeded although its bytes were corrupted on the way")
	}
	if tr.n.Load() == 0 {
		t.Fatal("the test transport corrupted nothing")
	}
	reader, err := s3.New(t.Context(), config(srv, bucket, "rusak", srv.Root()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Stat after a refused Save: %v, want ErrNotExist", err)
	}
}

// TestSilentServer: a server that accepts connections and never answers
// does not hang the caller past its context.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s3.Open(ctx, s3.Config{Endpoint: l.Addr().String(), Bucket: "sunyi", AccessKey: "a", SecretKey: "b"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open against a silent server: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v after its context expired at 2s", d)
	}
}
