package channel

import (
	"errors"
	"time"
)

// Error classifies a failed send. Errors that are not an *Error (or do not
// wrap one) count as transient: network failures, timeouts and refused
// connections are worth another try.
type Error struct {
	Err error
	// Permanent says retrying the same send cannot succeed (a 4xx answer
	// other than 429, an SMTP 5xx, a bad template or certificate).
	Permanent bool
	// RetryAfter is how long the receiver asked us to wait (429 or 503
	// with Retry-After); zero when it did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Permanent: true}
}

// Transient marks err as worth retrying, after retryAfter when it is not
// zero.
func Transient(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, RetryAfter: retryAfter}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter returns the wait the receiver asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}
