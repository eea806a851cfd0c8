package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// offsetHeader mirrors reposerver.OffsetHeader.
const offsetHeader = "Upload-Offset"

// saveSession sends data through an upload session: create, append chunks
// at the server's offset, finish with the name (the server checks the hash
// then). A dropped connection costs only the bytes the server did not get:
// the client asks for the session's offset and goes on from there. If the
// session itself is lost (server restart, expiry), it starts once more.
func (b *Backend) saveSession(ctx context.Context, h backend.Handle, data []byte) error {
	var err error
	for range 2 {
		var id string
		id, err = b.createSession(ctx)
		if err != nil {
			return err
		}
		err = b.sendSession(ctx, id, h, data)
		if err == nil || !errors.Is(err, errSessionLost) {
			if err != nil && ctx.Err() == nil {
				b.abortSession(ctx, id)
			}
			return err
		}
	}
	return err
}

var errSessionLost = errors.New("upload session lost")

type sessionInfo struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
}

func (b *Backend) createSession(ctx context.Context) (string, error) {
	var info sessionInfo
	err := b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodPost, b.repo+"/uploads", nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return statusError(resp, "start upload")
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&info); err != nil || info.ID == "" {
			return temporary{fmt.Errorf("start upload: unreadable answer: %v", err)}
		}
		return nil
	})
	return info.ID, err
}

func (b *Backend) sendSession(ctx context.Context, id string, h backend.Handle, data []byte) error {
	path := b.repo + "/uploads/" + id
	total := int64(len(data))
	var off int64
	failures := 0
	for off < total {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(total, off+int64(b.c.opts.ChunkSize))
		next, err := b.appendChunk(ctx, path, off, data[off:end])
		if err == nil {
			off, failures = next, 0
			continue
		}
		var c *conflict
		switch {
		case errors.As(err, &c) && c.offset != nil:
			// The server has a different amount: go on from its offset.
		case errors.Is(err, backend.ErrNotExist):
			return fmt.Errorf("%w: %v", errSessionLost, err)
		default:
			var tmp temporary
			if !errors.As(err, &tmp) && !isCutShort(err) {
				return err
			}
		}
		if failures++; failures >= b.c.opts.Retries {
			return fmt.Errorf("%w (gave up after %d attempts without progress)", err, failures)
		}
		if err := b.c.retry(ctx, func(ctx context.Context, _ int) error {
			o, err := b.sessionOffset(ctx, path)
			off = o
			return err
		}); err != nil {
			if errors.Is(err, backend.ErrNotExist) {
				return fmt.Errorf("%w: %v", errSessionLost, err)
			}
			return err
		}
		if off > total {
			return fmt.Errorf("upload: the server holds %d bytes of a %d-byte object", off, total)
		}
	}
	return b.finishSession(ctx, path, h)
}

// cutShort is the server's answer to a chunk whose body ended early.
type cutShort struct{ error }

func isCutShort(err error) bool {
	var c cutShort
	return errors.As(err, &c)
}

// appendChunk sends one chunk once and returns the server's new offset.
func (b *Backend) appendChunk(ctx context.Context, path string, off int64, chunk []byte) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(len(chunk)))
	defer cancel()
	hdr := http.Header{offsetHeader: {strconv.FormatInt(off, 10)}, "Content-Type": {"application/octet-stream"}}
	resp, err := b.c.do(ctx, http.MethodPatch, path, nonNil(chunk), hdr)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusBadRequest && resp.Header.Get(offsetHeader) != "" {
		return 0, cutShort{statusError(resp, "upload chunk")}
	}
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp, "upload chunk")
	}
	resp.Body.Close()
	n, err := strconv.ParseInt(resp.Header.Get(offsetHeader), 10, 64)
	if err != nil || n != off+int64(len(chunk)) {
		return 0, temporary{fmt.Errorf("upload chunk: server reports offset %q, want %d", resp.Header.Get(offsetHeader), off+int64(len(chunk)))}
	}
	return n, nil
}

func (b *Backend) sessionOffset(ctx context.Context, path string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
	defer cancel()
	resp, err := b.c.do(ctx, http.MethodHead, path, nil, nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp, "upload status")
	}
	resp.Body.Close()
	n, err := strconv.ParseInt(resp.Header.Get(offsetHeader), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("upload status: invalid offset %q", resp.Header.Get(offsetHeader))
	}
	return n, nil
}

func (b *Backend) finishSession(ctx context.Context, path string, h backend.Handle) error {
	typ := h.Type.Dir()
	if h.Type == backend.ConfigFile {
		typ = "config"
	}
	body, err := json.Marshal(map[string]string{"type": typ, "name": h.Name})
	if err != nil {
		return err
	}
	lostAnswer := false
	return b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0)+b.c.timeoutFor(0))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodPost, path+"/finish", body, http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			lostAnswer = true
			return err
		}
		if resp.StatusCode == http.StatusNotFound && lostAnswer {
			// The answer to a finish that worked may have been lost with
			// the session; sending again is safe (same bytes succeed).
			return fmt.Errorf("%w: %v", errSessionLost, statusError(resp, "finish upload"))
		}
		if resp.StatusCode/100 != 2 {
			return statusError(resp, "finish upload")
		}
		resp.Body.Close()
		return nil
	})
}

// abortSession frees the server's temporary data, best effort.
func (b *Backend) abortSession(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
	defer cancel()
	resp, err := b.c.do(ctx, http.MethodDelete, b.repo+"/uploads/"+id, nil, nil)
	if err == nil {
		resp.Body.Close()
	}
}
