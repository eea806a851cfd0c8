package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/minio/minio-go/v7"
)

// errorCode returns the S3 error code and HTTP status of err, or "" and 0
// when err is not an S3 error response (a network error, say).
func errorCode(err error) (code string, status int) {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code, er.StatusCode
	}
	var erp *minio.ErrorResponse
	if errors.As(err, &erp) && erp != nil {
		return erp.Code, erp.StatusCode
	}
	return "", 0
}

// errorMessage returns the server's message of an S3 error response.
func errorMessage(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}

// retentionRefusal reports whether err is the server refusing to delete or
// change an object because Object Lock retains it. AWS says AccessDenied;
// MinIO says InvalidRequest "Object is WORM protected".
func retentionRefusal(err error) bool {
	code, _ := errorCode(err)
	if code != "InvalidRequest" {
		return false
	}
	msg := strings.ToLower(errorMessage(err))
	for _, w := range []string{"worm", "retention", "object lock", "locked"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// class returns the backend sentinel that err belongs to, or nil.
func class(err error) error {
	if retentionRefusal(err) {
		return backend.ErrPermission
	}
	code, status := errorCode(err)
	switch code {
	case "NoSuchKey", "NoSuchVersion", "NotFound":
		return backend.ErrNotExist
	case "PreconditionFailed":
		return backend.ErrExists
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidToken", "ObjectLocked":
		return backend.ErrPermission
	case "EntityTooLarge", "QuotaExceeded", "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded",
		"InsufficientStorage", "XMinioStorageFullError":
		return backend.ErrNoSpace
	case "NoSuchBucket":
		return nil // its own message, never "file missing" (see wrap)
	}
	switch status {
	case http.StatusPreconditionFailed:
		return backend.ErrExists
	case http.StatusForbidden:
		return backend.ErrPermission
	case http.StatusInsufficientStorage, http.StatusRequestEntityTooLarge:
		return backend.ErrNoSpace
	}
	return nil
}

// classErr carries the sentinel class of an S3 error so that errors.Is
// matches it while the message stays the server's.
type classErr struct {
	err   error
	class error
}

func (e *classErr) Error() string { return e.err.Error() }

func (e *classErr) Unwrap() []error { return []error{e.err, e.class} }

// wrap gives err its context (what was being done, on which location), a
// class for errors.Is, and, for the mistakes an admin makes when setting up
// a bucket, a sentence saying what to do. A cancelled ctx always shows as
// ctx.Err(), whatever the client library made of it.
func (b *Backend) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s on %s: %w (%v)", op, b.loc, cerr, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s on %s: %w", op, b.loc, err)
	}
	code, _ := errorCode(err)
	switch code {
	case "NoSuchBucket":
		return fmt.Errorf("%s on %s: bucket %q does not exist: create it with Object Lock enabled (see docs/s3.md) or fix the location", op, b.loc, b.cfg.Bucket)
	case "InvalidAccessKeyId":
		return fmt.Errorf("%s on %s: the server does not know access key %q: check AWS_ACCESS_KEY_ID (or the layer's credentials): %w", op, b.loc, b.cfg.AccessKey, backend.ErrPermission)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%s on %s: the secret key is wrong for access key %q: check AWS_SECRET_ACCESS_KEY (or the layer's credentials): %w", op, b.loc, b.cfg.AccessKey, backend.ErrPermission)
	case "ExpiredToken", "InvalidToken":
		return fmt.Errorf("%s on %s: the temporary credentials have expired or are invalid: get new ones: %w", op, b.loc, backend.ErrPermission)
	case "RequestTimeTooSkewed":
		return fmt.Errorf("%s on %s: this machine's clock differs too much from the server's: fix the time (NTP) and retry: %w", op, b.loc, err)
	}
	var nerr net.Error
	var oerr *net.OpError
	if code == "" && (errors.As(err, &oerr) || errors.As(err, &nerr)) {
		return fmt.Errorf("%s on %s: cannot reach the S3 server %s: %w (check the address, the port, https/http and the network)", op, b.loc, b.cfg.Endpoint, err)
	}
	if c := class(err); c != nil {
		return fmt.Errorf("%s on %s: %w", op, b.loc, &classErr{err: err, class: c})
	}
	return fmt.Errorf("%s on %s: %w", op, b.loc, err)
}
