package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient calls a running server. Errors carry the server's own message.
type apiClient struct {
	server, token string
	http          *http.Client
}

func newClient(server, token string) (*apiClient, error) {
	if err := needToken(token); err != nil {
		return nil, err
	}
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &exitError{code: 2, err: fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080 (--server or RIPOSTE_SERVER)", server)}
	}
	return &apiClient{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// do sends req; a server that cannot be reached is named with the usual
// cause and the way to point the client elsewhere, instead of the
// transport's "dial tcp ...: connect: connection refused".
func (c *apiClient) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err == nil {
		return resp, nil
	}
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") {
		cause := err
		if op != nil {
			cause = op.Err
		}
		if dns != nil {
			cause = dns
		}
		return nil, &exitError{code: 2, err: fmt.Errorf("cannot reach %s (%v): is riposte serve running? use --server or RIPOSTE_SERVER", c.server, cause)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return nil, &exitError{code: 2, err: fmt.Errorf("%s %s: %w", req.Method, c.server, err)}
}

type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d %s)", e.msg, e.status, e.code) }

// call sends in as JSON and decodes the answer into out.
func (c *apiClient) call(method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	return c.callRaw(method, path, "application/json", body, out)
}

// callRaw sends body with a content type and decodes the answer into out.
func (c *apiClient) callRaw(method, path, contentType string, in []byte, out any) error {
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(in)
	}
	req, err := http.NewRequest(method, c.server+path, body)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(b, &e)
		ae := &apiError{status: resp.StatusCode, code: e.Error.Code, msg: e.Error.Message}
		if ae.msg == "" {
			ae.msg = strings.TrimSpace(string(b))
		}
		code := 2
		// A refusal on the merits (not found, invalid) is a negative answer.
		if resp.StatusCode == 404 || resp.StatusCode == 409 || resp.StatusCode == 422 {
			code = 1
		}
		return &exitError{code: code, err: ae}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("unreadable answer from %s: %v", path, err)}
		}
	}
	return nil
}
