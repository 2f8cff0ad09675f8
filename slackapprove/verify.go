package slackapprove

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Window is how far a request's timestamp may be from now: Slack's own
// advice, five minutes. Signatures are remembered as long, so a captured
// request cannot be replayed inside it either.
const Window = 5 * time.Minute

// Errors of Verify.
var (
	ErrUnsigned     = errors.New("X-Slack-Signature or X-Slack-Request-Timestamp is missing")
	ErrBadSignature = errors.New("the signature does not match the body (wrong signing secret, or the body was altered)")
	ErrStale        = errors.New("the request timestamp is more than 5 minutes from now (clock skew, or a replayed request)")
)

// Sign returns the X-Slack-Signature of body sent at ts: "v0=" and the hex
// HMAC-SHA256, keyed with the app's signing secret, of "v0:<ts>:<body>".
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "v0:%d:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks Slack's request signature (version v0) and that the
// request's timestamp is within Window of now. The comparison takes the
// same time whatever the signature.
//
// Written here rather than taken from slack-go/slack: it is these few
// lines, and the library would bring a whole Slack API client for them.
func Verify(secret []byte, h http.Header, body []byte, now time.Time) error {
	tsText, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	if tsText == "" || sig == "" {
		return ErrUnsigned
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("X-Slack-Request-Timestamp %q is not Unix seconds", cut(tsText, 20))
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Window || d < -Window {
		return ErrStale
	}
	if !strings.HasPrefix(sig, "v0=") {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
