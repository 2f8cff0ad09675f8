package okta

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/apiclient"
	"github.com/riposte-soar/riposte/connector/internal/apitest"
)

const (
	apiToken = "00QCjAl4MlV-WPXM0wHdS3o6X1a0YNo2fBqcpKdD7z"
	uid      = "00ub0oNGTSWTBKOLGLNR"
	login    = "isaac.brock@example.com"
)

var vault = apitest.Vault{"okta": apiToken}

func newConn(t *testing.T, srv *apitest.Server) *Connector {
	t.Helper()
	c, err := New(Config{APIToken: "secret://okta", Options: apiclient.Options{URL: srv.URL, HTTP: srv.Client(), Secrets: vault.Resolve}})
	if err != nil {
		t.Fatal(err)
	}
	c.api.Backoff = 10 * time.Millisecond
	return c
}

var auth = map[string]string{"Authorization": "SSWS " + apiToken, "Accept": "application/json"}

// userJSON is the User object of the Okta Users API reference.
func userJSON(status string) string {
	return `{"id":"` + uid + `","status":"` + status + `","created":"2013-06-24T16:39:18.000Z","activated":"2013-06-24T16:39:19.000Z",` +
		`"statusChanged":"2013-06-24T16:39:19.000Z","lastLogin":"2013-06-24T17:39:19.000Z","lastUpdated":"2013-07-02T21:36:25.344Z",` +
		`"passwordChanged":"2013-07-02T21:36:25.344Z","type":{"id":"otyfnjfba4ye7pgjB0g4"},` +
		`"profile":{"firstName":"Isaac","lastName":"Brock","email":"isaac.brock@example.com","login":"` + login + `","mobilePhone":"555-415-1337"},` +
		`"credentials":{"password":{},"recovery_question":{"question":"Who's a major player in the cowboy scene?"},"provider":{"type":"OKTA","name":"OKTA"}},` +
		`"_links":{"self":{"href":"https://example.okta.com/api/v1/users/` + uid + `"}}}`
}

func get(path, status string) apitest.Exchange {
	return apitest.Exchange{Method: "GET", Path: "/api/v1/users/" + path, Header: auth, NoBody: true, Query: map[string]string{}, Resp: userJSON(status)}
}

// The lifecycle operations answer 200 with an empty object or no body.
func lifecycle(verb, resp string) apitest.Exchange {
	return apitest.Exchange{Method: "POST", Path: "/api/v1/users/" + uid + "/lifecycle/" + verb, Header: auth, NoBody: true, Query: map[string]string{}, Resp: resp}
}

func sessions(oauth string) apitest.Exchange {
	return apitest.Exchange{Method: "DELETE", Path: "/api/v1/users/" + uid + "/sessions", Header: auth, NoBody: true,
		Query: map[string]string{"oauthTokens": oauth}, Status: 204}
}

// oktaErr is an answer in Okta's error shape.
func oktaErr(e apitest.Exchange, status int, code, summary string, causes ...string) apitest.Exchange {
	cs := make([]string, len(causes))
	for i, c := range causes {
		cs[i] = `{"errorSummary":"` + c + `"}`
	}
	e.Status, e.Resp = status, `{"errorCode":"`+code+`","errorSummary":"`+summary+`","errorLink":"`+code+`","errorId":"oaeH3S0FEbKTmCrK0iSF2gXbw","errorCauses":[`+strings.Join(cs, ",")+`]}`
	return e
}

func TestSuspendUnsuspend(t *testing.T) {
	srv := apitest.New(t,
		get(login, "ACTIVE"), lifecycle("suspend", "{}"), get(uid, "SUSPENDED"),
		// a repeat finds it suspended
		get(login, "SUSPENDED"),
		// the undo, by id
		get(uid, "SUSPENDED"), lifecycle("unsuspend", ""), get(uid, "ACTIVE"),
		// unsuspending an active user changes nothing
		get(uid, "ACTIVE"),
	)
	c := newConn(t, srv)
	ctx := context.Background()
	call := connector.Call{Operation: "suspend_user", Args: map[string]any{"user": login}}
	r, err := c.Execute(ctx, call)
	if err != nil || r.Outputs["status"] != "SUSPENDED" || r.Outputs["already"] != false || r.Outputs["user_id"] != uid || r.Undo == nil {
		t.Fatalf("suspend: %v %+v", err, r)
	}
	if r2, err := c.Execute(ctx, call); err != nil || r2.Outputs["already"] != true || r2.Undo != nil {
		t.Fatalf("repeat: %v %+v", err, r2)
	}
	r3, err := c.Execute(ctx, connector.Call{Operation: r.Undo.Operation, Args: r.Undo.Args})
	if err != nil || r3.Outputs["status"] != "ACTIVE" || r3.Undo != nil {
		t.Fatalf("unsuspend: %v %+v", err, r3)
	}
	if r4, err := c.Execute(ctx, connector.Call{Operation: "unsuspend_user", Args: r.Undo.Args}); err != nil || r4.Outputs["already"] != true {
		t.Fatalf("unsuspend again: %v %+v", err, r4)
	}
	for _, cmd := range append(r.Commands, r3.Commands...) {
		if strings.Contains(cmd, apiToken) {
			t.Fatalf("the token is in %q", cmd)
		}
	}
}

func TestClearSessions(t *testing.T) {
	srv := apitest.New(t, get("isaac.brock", "SUSPENDED"), sessions("false"), get(login, "ACTIVE"), sessions("true"))
	c := newConn(t, srv)
	for _, call := range []connector.Call{
		// a login shortname
		{Operation: "clear_sessions", Args: map[string]any{"user": "isaac.brock", "oauth_tokens": false}},
		{Operation: "clear_sessions", Args: map[string]any{"user": login}},
	} {
		r, err := c.Execute(context.Background(), call)
		if err != nil || r.Undo != nil || r.Outputs["user_id"] != uid {
			t.Fatalf("%v: %v %+v", call.Args, err, r)
		}
		if _, err := time.Parse(time.RFC3339, r.Outputs["cleared_at"].(string)); err != nil {
			t.Fatal(err)
		}
	}
}

// Okta answers another user than the one named (a login with + that a
// proxy or a shortname resolved elsewhere): nothing is changed.
func TestOtherUser(t *testing.T) {
	srv := apitest.New(t, get("isaac+test@example.com", "ACTIVE"))
	_, err := newConn(t, srv).Execute(context.Background(), connector.Call{Operation: "clear_sessions", Args: map[string]any{"user": "isaac+test@example.com"}})
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "answered user") {
		t.Fatalf("%v", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	suspend := connector.Call{Operation: "suspend_user", Args: map[string]any{"user": login}}
	t.Run("429 waits for X-Rate-Limit-Reset", func(t *testing.T) {
		limited := oktaErr(get(login, "ACTIVE"), 429, "E0000047", "API call exceeded rate limit due to too many requests.")
		// The reset is counted from the answer's Date, not the local clock.
		date := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		limited.RespHeader = map[string]string{"Date": date.Format(http.TimeFormat), "X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0",
			"X-Rate-Limit-Reset": strconv.FormatInt(date.Add(time.Second).Unix(), 10)}
		srv := apitest.New(t, limited, get(login, "ACTIVE"), lifecycle("suspend", "{}"), get(uid, "SUSPENDED"))
		start := time.Now()
		r, err := newConn(t, srv).Execute(ctx, suspend)
		if err != nil || r.Outputs["status"] != "SUSPENDED" {
			t.Fatalf("%v %+v", err, r.Outputs)
		}
		if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
			t.Fatalf("waited %s, want about 1s", d)
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		limited := oktaErr(sessions("true"), 429, "E0000047", "API call exceeded rate limit due to too many requests.")
		limited.RespHeader = map[string]string{"Retry-After": "0"}
		srv := apitest.New(t, get(login, "ACTIVE"), limited, sessions("true"))
		if _, err := newConn(t, srv).Execute(ctx, connector.Call{Operation: "clear_sessions", Args: map[string]any{"user": login}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too long a reset fails transient", func(t *testing.T) {
		limited := oktaErr(get(login, "ACTIVE"), 429, "E0000047", "API call exceeded rate limit due to too many requests.")
		limited.RespHeader = map[string]string{"X-Rate-Limit-Reset": strconv.FormatInt(time.Now().Add(10*time.Minute).Unix(), 10)}
		srv := apitest.New(t, limited)
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Transient || !strings.Contains(err.Error(), "E0000047") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		srv := apitest.New(t, oktaErr(get(login, "ACTIVE"), 404, "E0000007", "Not found: Resource not found: "+login+" (User)"))
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "E0000007: Not found: Resource not found") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("invalid token", func(t *testing.T) {
		srv := apitest.New(t, oktaErr(get(login, "ACTIVE"), 401, "E0000011", "Invalid token provided"))
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "Invalid token provided") || strings.Contains(err.Error(), apiToken) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("validation failure with causes", func(t *testing.T) {
		srv := apitest.New(t, get(login, "LOCKED_OUT"),
			oktaErr(lifecycle("suspend", ""), 400, "E0000001", "Api validation failed: suspend", "Cannot suspend a user that is not active"))
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "E0000001: Api validation failed: suspend; Cannot suspend a user that is not active") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the suspend is not resent after a 5xx", func(t *testing.T) {
		srv := apitest.New(t, get(login, "ACTIVE"), oktaErr(lifecycle("suspend", ""), 500, "E0000009", "Internal Server Error"))
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Unknown {
			t.Fatalf("%v", err)
		}
	})
	t.Run("not read back", func(t *testing.T) {
		srv := apitest.New(t, get(login, "ACTIVE"), lifecycle("suspend", "{}"), get(uid, "ACTIVE"))
		_, err := newConn(t, srv).Execute(ctx, suspend)
		if connector.ClassOf(err) != connector.Unknown || !strings.Contains(err.Error(), "status reads") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("deactivated user is left alone", func(t *testing.T) {
		srv := apitest.New(t, get(login, "DEPROVISIONED"))
		r, err := newConn(t, srv).Execute(ctx, suspend)
		if err != nil || r.Outputs["already"] != true || r.Undo != nil {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func TestArgs(t *testing.T) {
	srv := apitest.New(t)
	c := newConn(t, srv)
	for _, u := range []any{nil, "", "me", "ME", "a/b@example.com", "..", "a b@example.com", "a\n@example.com", strings.Repeat("a", 101), 7} {
		args := map[string]any{"user": u}
		if u == nil {
			args = map[string]any{}
		}
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "suspend_user", Args: args}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := c.Simulate(context.Background(), connector.Call{Operation: "clear_sessions", Args: map[string]any{"user": login, "oauth_tokens": "yes"}}); err == nil {
		t.Error("oauth_tokens: yes accepted")
	}
	r, err := c.Simulate(context.Background(), connector.Call{Operation: "suspend_user", Args: map[string]any{"user": login}})
	if err != nil || len(r.Commands) != 3 || r.Undo == nil || srv.Sent() != 0 || !strings.Contains(r.Commands[1], "/lifecycle/suspend") ||
		!strings.Contains(r.Commands[0], "secret://okta") {
		t.Fatalf("%v %q", err, r.Commands)
	}
	r, err = c.Simulate(context.Background(), connector.Call{Operation: "clear_sessions", Args: map[string]any{"user": login}})
	if err != nil || len(r.Commands) != 2 || r.Undo != nil || !strings.Contains(r.Commands[1], "oauthTokens=true") {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"okta"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	cfg.Secrets = vault.Resolve
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	if refs := cfg.References(); refs["connectors.okta.api_token"] != "okta-api-token" {
		t.Fatalf("%v", refs)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.URL = "" },
		func(c *Config) { c.URL = "http://example.okta.com" },
		func(c *Config) { c.APIToken = "00QCjAl4MlV" },
	} {
		cc := cfg
		bad(&cc)
		if _, err := New(cc); err == nil {
			t.Errorf("%+v accepted", cc)
		}
	}
}
