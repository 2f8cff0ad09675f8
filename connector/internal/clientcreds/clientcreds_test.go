package clientcreds

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const secretValue = "s3cr3t~client~value"

var vault = apitest.Vault{"ms": secretValue}

// The form and answer of the Microsoft identity platform's
// client-credentials request (shared secret), as its reference shows them.
var msForm = map[string]string{"client_id": "535fb089-9ff3-47b6-9bfb-4f1264799865", "scope": "https://graph.microsoft.com/.default",
	"client_secret": secretValue, "grant_type": "client_credentials"}

func tokenAnswer(tok string) string {
	return `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"` + tok + `"}`
}

func setup(t *testing.T, srv *apitest.Server, clock *time.Time) (*Source, *apiclient.Client) {
	t.Helper()
	tu, err := CheckTokenURL("token_url", srv.URL+"/tenant/oauth2/v2.0/token")
	if err != nil {
		t.Fatal(err)
	}
	s := &Source{Name: "entra", TokenURL: tu, ClientID: msForm["client_id"], Secret: "secret://ms", Secrets: vault.Resolve,
		Scope: msForm["scope"], GrantType: true, HTTP: srv.Client(), Backoff: 5 * time.Millisecond,
		Now: func() time.Time { return *clock }}
	base, _ := url.Parse(srv.URL)
	c := &apiclient.Client{Name: "entra", Base: base, HTTP: srv.Client(), Backoff: 5 * time.Millisecond}
	s.Bind(c)
	return s, c
}

var get = apiclient.Request{Method: "GET", Path: []string{"v1.0", "users", "x"}, Retry: true}

func TestCachedRefreshedOn401AndExpiry(t *testing.T) {
	tok := func(path string) apitest.Exchange {
		return apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Form: msForm, Resp: tokenAnswer(path)}
	}
	user := func(bearer string, status int) apitest.Exchange {
		e := apitest.Exchange{Method: "GET", Path: "/v1.0/users/x", Header: map[string]string{"Authorization": "Bearer " + bearer}, Resp: `{"id":"x"}`, Status: status}
		if status == 401 {
			e.Resp = `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}`
		}
		return e
	}
	srv := apitest.New(t,
		tok("tok-1"), user("tok-1", 200), user("tok-1", 200), // cached
		user("tok-1", 401), tok("tok-2"), user("tok-2", 200), // refreshed once on 401
		user("tok-2", 401), tok("tok-3"), user("tok-3", 401), // a second 401 is the answer
		tok("tok-4"), user("tok-4", 200), // expired by the clock
	)
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, c := setup(t, srv, &clock)
	ctx := context.Background()
	for i := range 3 {
		if _, err := Do(ctx, s, c, get, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := Do(ctx, s, c, get, nil)
	if !apiclient.IsStatus(err, 401) || !strings.Contains(err.Error(), "InvalidAuthenticationToken") {
		t.Fatalf("second 401: %v", err)
	}
	clock = clock.Add(3599*time.Second - 59*time.Second)
	if _, err := Do(ctx, s, c, get, nil); err != nil {
		t.Fatal(err)
	}
	if s.Fetched() != 4 {
		t.Fatalf("fetched %d tokens, want 4", s.Fetched())
	}
}

func TestTokenErrors(t *testing.T) {
	clock := time.Now()
	t.Run("429 then 503 then a token", func(t *testing.T) {
		srv := apitest.New(t,
			apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Status: 429, RespHeader: map[string]string{"Retry-After": "0"}},
			apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Status: 503},
			apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Form: msForm, Resp: tokenAnswer("t")})
		s, _ := setup(t, srv, &clock)
		if tok, err := s.Token(context.Background()); err != nil || tok != "t" {
			t.Fatalf("%q %v", tok, err)
		}
	})
	t.Run("invalid client is permanent, secret redacted", func(t *testing.T) {
		srv := apitest.New(t, apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Status: 401,
			Resp: `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '535fb089'. ` + secretValue + `","error_codes":[7000215]}`})
		s, _ := setup(t, srv, &clock)
		_, err := s.Token(context.Background())
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), secretValue) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("CrowdStrike errors, transient after attempts", func(t *testing.T) {
		e := apitest.Exchange{Method: "POST", Path: "/tenant/oauth2/v2.0/token", Status: 500,
			Resp: `{"meta":{"query_time":0.01,"powered_by":"csam","trace_id":"x"},"errors":[{"code":500,"message":"internal error"}]}`}
		srv := apitest.New(t, e, e, e)
		s, _ := setup(t, srv, &clock)
		_, err := s.Token(context.Background())
		if connector.ClassOf(err) != connector.Transient || !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		srv := apitest.New(t)
		s, _ := setup(t, srv, &clock)
		s.Secret = "secret://nope"
		if _, err := s.Token(context.Background()); connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "secret://nope") {
			t.Fatalf("%v", err)
		}
	})
}

func TestExpiresIn(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want time.Duration
	}{{`1799`, 1799 * time.Second}, {`"3599"`, 3599 * time.Second}, {``, 5 * time.Minute}, {`-1`, 5 * time.Minute}, {`"x"`, 5 * time.Minute}} {
		if got := expiresIn([]byte(c.raw)); got != c.want {
			t.Errorf("%s: %s, want %s", c.raw, got, c.want)
		}
	}
}
