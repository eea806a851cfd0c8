package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
)

func TestWrapClassifies(t *testing.T) {
	b := &Backend{cfg: Config{Endpoint: "s3.example:9000", Bucket: "cadangan", AccessKey: "agen"}, loc: "s3:https://s3.example:9000/cadangan"}
	resp := func(code string, status int) error {
		return minio.ErrorResponse{Code: code, StatusCode: status, Message: "server says " + code}
	}
	tests := []struct {
		name string
		err  error
		is   error    // class the wrapped error must match, or nil
		not  []error  // classes it must not match
		want []string // substrings of the message
	}{
		{"NoSuchKey", resp("NoSuchKey", 404), backend.ErrNotExist, nil, []string{"server says"}},
		{"NoSuchVersion", resp("NoSuchVersion", 404), backend.ErrNotExist, nil, nil},
		{"PreconditionFailed", resp("PreconditionFailed", 412), backend.ErrExists, nil, nil},
		{"AccessDenied", resp("AccessDenied", 403), backend.ErrPermission, []error{backend.ErrNotExist}, nil},
		{"Forbidden without a code", resp("", 403), backend.ErrPermission, nil, nil},
		{"WORM (MinIO)", minio.ErrorResponse{Code: "InvalidRequest", StatusCode: 400, Message: "Object is WORM protected and cannot be overwritten"}, backend.ErrPermission, nil, []string{"WORM"}},
		{"Other InvalidRequest", resp("InvalidRequest", 400), nil, []error{backend.ErrPermission}, nil},
		{"EntityTooLarge", resp("EntityTooLarge", 400), backend.ErrNoSpace, nil, nil},
		{"QuotaExceeded", resp("XMinioAdminBucketQuotaExceeded", 400), backend.ErrNoSpace, nil, nil},
		{"StorageFull", resp("XMinioStorageFull", 507), backend.ErrNoSpace, nil, nil},
		{"InsufficientStorage status", resp("", 507), backend.ErrNoSpace, nil, nil},
		{"NoSuchBucket", resp("NoSuchBucket", 404), nil, []error{backend.ErrNotExist}, []string{`bucket "cadangan" does not exist`, "docs/s3.md"}},
		{"InvalidAccessKeyId", resp("InvalidAccessKeyId", 403), backend.ErrPermission, nil, []string{`"agen"`, "AWS_ACCESS_KEY_ID"}},
		{"SignatureDoesNotMatch", resp("SignatureDoesNotMatch", 403), backend.ErrPermission, nil, []string{"AWS_SECRET_ACCESS_KEY"}},
		{"ClockSkew", resp("RequestTimeTooSkewed", 403), nil, nil, []string{"NTP"}},
		{"Unreachable", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, nil, []error{backend.ErrNotExist}, []string{"cannot reach the S3 server s3.example:9000"}},
		{"Wrapped", fmt.Errorf("deep: %w", resp("NoSuchKey", 404)), backend.ErrNotExist, nil, nil},
		{"Other", errors.New("something else"), nil, []error{backend.ErrNotExist, backend.ErrPermission, backend.ErrExists, backend.ErrNoSpace}, []string{"something else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.wrap(context.Background(), "load data/00", tt.err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v does not match %v", err, tt.is)
			}
			for _, n := range tt.not {
				if errors.Is(err, n) {
					t.Errorf("%v matches %v", err, n)
				}
			}
			msg := err.Error()
			for _, w := range append(tt.want, "load data/00", b.loc) {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestWrapCancelled(t *testing.T) {
	b := &Backend{loc: "s3:https://h/b"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Whatever the library made of it, a cancelled context shows as such.
	err := b.wrap(ctx, "save", errors.New("request aborted"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("wrap with a cancelled context: %v", err)
	}
	if b.wrap(ctx, "save", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
}
