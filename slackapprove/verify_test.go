package slackapprove

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// Slack's documented example: signing secret, timestamp and body give
// this signature (api.slack.com/authentication/verifying-requests-from-slack).
func TestSignMatchesSlackExample(t *testing.T) {
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	const want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	if got := Sign([]byte("8f742231b10e8888abcd99yyyzzz85a5"), 1531420618, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte("payload=%7B%7D")
	now := time.Unix(1_800_000_000, 0)
	h := func(ts int64, sig string) http.Header {
		x := http.Header{}
		if ts != 0 {
			x.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		}
		if sig != "" {
			x.Set("X-Slack-Signature", sig)
		}
		return x
	}
	ts := now.Unix()
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"good", h(ts, Sign(secret, ts, body)), body, nil},
		{"4m59s old", h(ts-299, Sign(secret, ts-299, body)), body, nil},
		{"5m01s old", h(ts-301, Sign(secret, ts-301, body)), body, ErrStale},
		{"from the future", h(ts+301, Sign(secret, ts+301, body)), body, ErrStale},
		{"altered body", h(ts, Sign(secret, ts, body)), []byte("payload=%7B%22a%22%7D"), ErrBadSignature},
		{"other secret", h(ts, Sign([]byte("other"), ts, body)), body, ErrBadSignature},
		{"timestamp moved", h(ts-1, Sign(secret, ts, body)), body, ErrBadSignature},
		{"v1 scheme", h(ts, "v1="+Sign(secret, ts, body)[3:]), body, ErrBadSignature},
		{"no signature", h(ts, ""), body, ErrUnsigned},
		{"no timestamp", h(0, Sign(secret, ts, body)), body, ErrUnsigned},
	} {
		if err := Verify(secret, tc.h, tc.body, now); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// parseInteraction reads bodies from anyone who knows the signing secret:
// whatever the body, it answers a payload or an error and never panics.
func FuzzParseInteraction(f *testing.F) {
	for _, s := range []string{
		"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22riposte_approve%22%2C%22value%22%3A%22x%22%7D%5D%7D",
		"payload=", "payload=%7Bnot", "a=b&payload=null", "%zz", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		form, _ := url.ParseQuery(string(body))
		if _, err := parseInteraction(body); err == nil && form.Get("payload") == "" {
			t.Fatalf("accepted a body without a payload: %q", body)
		}
	})
}
