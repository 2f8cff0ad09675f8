// Package ldap is the directory accounts connector: it disables and
// enables accounts, resets passwords and removes users from groups (and
// adds them back) in an LDAP directory, OpenLDAP with the ppolicy overlay
// or Active Directory, through github.com/go-ldap/ldap/v3. Every change is
// read back from the directory before the step succeeds, and each
// reversible one returns its undo.
//
// Playbooks name a login and a group, never a DN or a filter: names are
// searched for under the configured bases with the filter escaped, and
// must match exactly one entry. The service account's password comes from
// the secret store at each call.
package ldap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/secret"
)

// Name is the connector's name in playbooks.
const Name = "ldap"

// Values the connector writes.
const (
	// lockedForever is ppolicy's "locked until an administrator unlocks".
	lockedForever = "000001010000Z"
	// accountDisable is userAccountControl's ACCOUNTDISABLE bit.
	accountDisable = 2
)

var (
	userArg  = connector.ArgSpec{Type: "string", Required: true, Description: "the login name (uid on OpenLDAP, sAMAccountName on AD, or the configured user_attr)"}
	groupArg = connector.ArgSpec{Type: "string", Required: true, Description: "the group's cn, under groups_base"}
)

var spec = connector.Spec{
	Name:        Name,
	Description: "Disables and enables directory accounts, resets passwords and removes users from groups in OpenLDAP (ppolicy) or Active Directory; each change is read back.",
	Operations: map[string]connector.Operation{
		"disable_account": {
			Description: "Disable the account (OpenLDAP: pwdAccountLockedTime=000001010000Z, enforced by ppolicy; AD: the ACCOUNTDISABLE bit of userAccountControl), then read the entry back.",
			Args:        map[string]connector.ArgSpec{"user": userArg},
			Outputs:     map[string]string{"user": "the login", "dn": "the entry", "state": "disabled", "already": "true when it was disabled before the call (no undo is returned then)"},
			Idempotent:  true,
			Reversible:  "enable_account",
		},
		"enable_account": {
			Description: "Enable the account again (OpenLDAP: remove pwdAccountLockedTime; AD: clear ACCOUNTDISABLE), then read the entry back.",
			Args:        map[string]connector.ArgSpec{"user": userArg},
			Outputs:     map[string]string{"user": "the login", "dn": "the entry", "state": "enabled", "already": "true when it was enabled before the call"},
			Idempotent:  true,
		},
		"reset_password": {
			Description: "Set a new password: a random one that is not kept (the attacker's is void; the user goes through the helpdesk), or the value of a secret. Cannot be undone: the old password is not known.",
			Args: map[string]connector.ArgSpec{
				"user":     userArg,
				"password": {Type: "string", Description: "secret://NAME holding the new password; default: a random password that is not kept"},
			},
			Outputs:    map[string]string{"user": "the login", "dn": "the entry", "password": "where the password is: 'random, not kept' or the secret reference", "verified": "how the change was checked"},
			Idempotent: false,
		},
		"remove_from_group": {
			Description: "Remove the user from the group (its member attribute), then read the group back.",
			Args:        map[string]connector.ArgSpec{"user": userArg, "group": groupArg},
			Outputs:     map[string]string{"user": "the login", "dn": "the user's entry", "group_dn": "the group's entry", "member": "false", "already": "true when the user was not a member (no undo is returned then)"},
			Idempotent:  true,
			Reversible:  "add_to_group",
		},
		"add_to_group": {
			Description: "Add the user to the group (the undo of remove_from_group), then read the group back.",
			Args:        map[string]connector.ArgSpec{"user": userArg, "group": groupArg},
			Outputs:     map[string]string{"user": "the login", "dn": "the user's entry", "group_dn": "the group's entry", "member": "true", "already": "true when the user was a member already"},
			Idempotent:  true,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg     Config
	tls     *tls.Config
	dialOpt []goldap.DialOpt
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.withDefaults()
	tc, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: cfg.Timeout}
	return &Connector{cfg: cfg, tls: tc, dialOpt: []goldap.DialOpt{goldap.DialWithDialer(d), goldap.DialWithTLSConfig(tc)}}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

func bad(op, format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "ldap."+op+": "+format, a...)
}

// job is a validated call.
type job struct {
	op, user, group, passwordRef string
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "ldap: unknown operation %q", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("ldap.%s: %w", call.Operation, err)}
	}
	j := &job{op: call.Operation}
	var err error
	if j.user, err = checkName(call.Args["user"].(string)); err != nil {
		return nil, bad(j.op, "user %q: %v", limit.Text(call.Args["user"].(string), 64), err)
	}
	for _, p := range c.cfg.Protect {
		if strings.EqualFold(p, j.user) {
			return nil, bad(j.op, "%s is protected (in the connector's protect list)", j.user)
		}
	}
	if g, ok := call.Args["group"].(string); ok {
		if j.group, err = checkName(g); err != nil {
			return nil, bad(j.op, "group %q: %v", limit.Text(g, 64), err)
		}
	}
	if p, ok := call.Args["password"].(string); ok {
		if _, isRef, err := secret.ParseRef(p); err != nil || !isRef {
			// Never echo the value: it may be a password written in clear.
			return nil, bad(j.op, "password must be a secret://NAME reference (a password in a playbook would be kept in its runs)")
		}
		j.passwordRef = p
	}
	return j, nil
}

// plan says, in words, what a call changes (for the dry run and the
// trace); dn is "" before the entry is found.
func (c *Connector) plan(j *job, dn, groupDN string) string {
	who := dn
	if who == "" {
		who = fmt.Sprintf("(%s=%s) under %s", c.cfg.UserAttr, goldap.EscapeFilter(j.user), c.cfg.UsersBase)
	}
	grp := groupDN
	if grp == "" {
		grp = fmt.Sprintf("(cn=%s) under %s", goldap.EscapeFilter(j.group), c.cfg.GroupsBase)
	}
	switch {
	case j.op == "disable_account" && c.cfg.Flavour == OpenLDAP:
		return "LDAP modify " + who + ": replace pwdAccountLockedTime: " + lockedForever
	case j.op == "disable_account":
		return "LDAP modify " + who + ": userAccountControl |= 2 (ACCOUNTDISABLE)"
	case j.op == "enable_account" && c.cfg.Flavour == OpenLDAP:
		return "LDAP modify " + who + ": delete pwdAccountLockedTime"
	case j.op == "enable_account":
		return "LDAP modify " + who + ": userAccountControl &^= 2 (ACCOUNTDISABLE)"
	case j.op == "reset_password" && c.cfg.Flavour == OpenLDAP:
		return "LDAP password modify (RFC 3062) " + who + ": new password [not shown]"
	case j.op == "reset_password":
		return "LDAP modify " + who + ": replace unicodePwd [not shown]"
	case j.op == "remove_from_group":
		return "LDAP modify " + grp + ": delete member: " + who
	}
	return "LDAP modify " + grp + ": add member: " + who
}

// Simulate validates the call and says what Execute would change, without
// connecting to the directory or reading a secret.
func (c *Connector) Simulate(_ context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{
		Outputs:  map[string]any{"user": j.user},
		Commands: []string{limit.Text(c.plan(j, "", ""), limit.Command)},
		Summary:  "would " + strings.ReplaceAll(j.op, "_", " ") + " " + j.user + " in " + c.cfg.URL + ", then read it back",
	}
	if j.group != "" {
		res.Outputs["group"] = j.group
	}
	res.Undo = c.undo(j)
	return res, nil
}

func (c *Connector) undo(j *job) *connector.Undo {
	switch j.op {
	case "disable_account":
		return &connector.Undo{Connector: Name, Operation: "enable_account", Args: map[string]any{"user": j.user}, Summary: "enable the directory account " + j.user + " again"}
	case "remove_from_group":
		return &connector.Undo{Connector: Name, Operation: "add_to_group", Args: map[string]any{"user": j.user, "group": j.group}, Summary: "add " + j.user + " back to the group " + j.group}
	}
	return nil
}

// classify turns a directory error into the engine's classes; changed says
// whether a change may have been sent.
func classify(op string, err error, changed bool) error {
	var le *goldap.Error
	code := uint16(0)
	if errors.As(err, &le) {
		code = le.ResultCode
	}
	class := connector.Permanent
	switch {
	case code == goldap.ErrorNetwork || code == goldap.LDAPResultServerDown || code == goldap.LDAPResultTimeout || errors.Is(err, context.DeadlineExceeded):
		class = connector.Transient
		if changed {
			class = connector.Unknown
		}
	case code == goldap.LDAPResultBusy || code == goldap.LDAPResultUnavailable:
		class = connector.Transient
	}
	return &connector.Error{Class: class, Err: fmt.Errorf("ldap.%s: %w", op, err)}
}

// connect dials, secures and binds as the service account.
func (c *Connector) connect(ctx context.Context, op string) (*goldap.Conn, []string, error) {
	pw, err := c.cfg.Secrets(ctx, c.cfg.BindPassword)
	if err != nil {
		return nil, nil, bad(op, "bind_password: %v", err)
	}
	conn, err := goldap.DialURL(c.cfg.URL, c.dialOpt...)
	if err != nil {
		return nil, nil, connector.Errorf(connector.Transient, "ldap.%s: connecting to %s: %v", op, c.cfg.URL, redact(err.Error(), pw))
	}
	conn.SetTimeout(c.cfg.Timeout)
	// A cancelled call must not wait for the directory's timeout.
	context.AfterFunc(ctx, func() { conn.Close() })
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, nil, bad(op, "StartTLS with %s: %v", c.cfg.URL, err)
		}
	}
	if err := conn.Bind(c.cfg.BindDN, pw); err != nil {
		conn.Close()
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, nil, bad(op, "the directory refused the bind as %s (invalid credentials: check bind_password)", c.cfg.BindDN)
		}
		return nil, nil, classify(op, errors.New(redact(err.Error(), pw)), false)
	}
	return conn, []string{pw}, nil
}

func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[secret]")
		}
	}
	return s
}

// findOne searches base for exactly one entry matching filter.
func findOne(conn *goldap.Conn, op, what, base, filter string, attrs []string) (*goldap.Entry, error) {
	res, err := conn.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false, filter, attrs, nil))
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return nil, bad(op, "%s: the base %s does not exist", what, base)
		}
		return nil, classify(op, err, false)
	}
	switch n := len(res.Entries); {
	case n == 0:
		return nil, bad(op, "%s: no entry matches %s under %s", what, filter, base)
	case n > 1:
		return nil, bad(op, "%s: more than one entry matches %s under %s (refusing to guess)", what, filter, base)
	}
	return res.Entries[0], nil
}

func (c *Connector) findUser(conn *goldap.Conn, j *job) (*goldap.Entry, error) {
	filter := fmt.Sprintf("(%s=%s)", c.cfg.UserAttr, goldap.EscapeFilter(j.user))
	e, err := findOne(conn, j.op, "user "+j.user, c.cfg.UsersBase, filter, []string{c.cfg.UserAttr, "pwdAccountLockedTime", "userAccountControl"})
	if err != nil {
		return nil, err
	}
	if dnEqual(e.DN, c.cfg.BindDN) {
		return nil, bad(j.op, "%s is the connector's own bind account", e.DN)
	}
	return e, nil
}

func dnEqual(a, b string) bool {
	x, err1 := goldap.ParseDN(a)
	y, err2 := goldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return x.EqualFold(y)
}

// Execute makes the change and reads it back.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	conn, secrets, err := c.connect(ctx, j.op)
	if err != nil {
		return connector.Result{}, err
	}
	defer conn.Close()
	user, err := c.findUser(conn, j)
	if err != nil {
		return connector.Result{}, err
	}
	res := connector.Result{Outputs: map[string]any{"user": j.user, "dn": user.DN}}
	switch j.op {
	case "disable_account", "enable_account":
		err = c.setEnabled(conn, j, user, &res)
	case "reset_password":
		err = c.resetPassword(ctx, conn, j, user, &res, secrets)
	default:
		err = c.membership(conn, j, user, &res)
	}
	if err != nil {
		return res, err
	}
	return res, nil
}

// state reads whether an entry is disabled, the way the flavour disables.
func (c *Connector) state(e *goldap.Entry) (disabled bool, uac int64, err error) {
	if c.cfg.Flavour == OpenLDAP {
		return e.GetAttributeValue("pwdAccountLockedTime") == lockedForever, 0, nil
	}
	v := e.GetAttributeValue("userAccountControl")
	uac, err = strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, 0, fmt.Errorf("userAccountControl %q of %s is not a number", limit.Text(v, 32), e.DN)
	}
	return uac&accountDisable != 0, uac, nil
}

func (c *Connector) setEnabled(conn *goldap.Conn, j *job, user *goldap.Entry, res *connector.Result) error {
	want := j.op == "disable_account"
	disabled, uac, err := c.state(user)
	if err != nil {
		return bad(j.op, "%v", err)
	}
	word := map[bool]string{true: "disabled", false: "enabled"}
	res.Outputs["state"] = word[want]
	res.Commands = []string{limit.Text(c.plan(j, user.DN, ""), limit.Command)}
	if disabled == want {
		// Not ours to undo: an administrator (or an earlier run) did it.
		res.Outputs["already"] = true
		res.Summary = fmt.Sprintf("%s (%s) was already %s; nothing changed", j.user, user.DN, word[want])
		return nil
	}
	m := goldap.NewModifyRequest(user.DN, nil)
	switch {
	case c.cfg.Flavour == OpenLDAP && want:
		m.Replace("pwdAccountLockedTime", []string{lockedForever})
	case c.cfg.Flavour == OpenLDAP:
		m.Delete("pwdAccountLockedTime", nil)
	default:
		next := uac | accountDisable
		if !want {
			next = uac &^ accountDisable
		}
		// Delete the value read and add the new one in one request: if
		// someone changed the flags since, the delete fails and nothing
		// is lost (AD's way of an atomic read-modify-write).
		m.Delete("userAccountControl", []string{strconv.FormatInt(uac, 10)})
		m.Add("userAccountControl", []string{strconv.FormatInt(next, 10)})
	}
	if err := conn.Modify(m); err != nil {
		return classify(j.op, err, true)
	}
	back, err := c.findUser(conn, j)
	if err != nil {
		return &connector.Error{Class: connector.Unknown, Err: fmt.Errorf("ldap.%s: reading %s back: %w", j.op, user.DN, err)}
	}
	now, uac, err := c.state(back)
	if err != nil || now != want {
		return connector.Errorf(connector.Unknown, "ldap.%s: the directory accepted the change, but %s reads back as not %s (%v)", j.op, user.DN, word[want], err)
	}
	res.Outputs["already"] = false
	if c.cfg.Flavour == AD {
		res.Outputs["userAccountControl"] = uac
	} else {
		res.Outputs["pwdAccountLockedTime"] = back.GetAttributeValue("pwdAccountLockedTime")
	}
	res.Summary = fmt.Sprintf("%s %s (%s); read back %s", word[want], j.user, user.DN, word[want])
	res.Undo = c.undo(j)
	return nil
}

// randomPassword makes a password that meets common complexity rules (AD's
// default: three of four classes) and that nobody knows.
func randomPassword() (string, error) {
	const (
		lower = "abcdefghijkmnopqrstuvwxyz"
		upper = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digit = "23456789"
		sym   = "!#%+-.:=?@^_~"
	)
	classes := []string{lower, upper, digit, sym}
	all := strings.Join(classes, "")
	b := make([]byte, 0, 32)
	for i := range 32 {
		set := all
		if i < len(classes) {
			set = classes[i]
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return "", err
		}
		b = append(b, set[n.Int64()])
	}
	return string(b), nil
}

// unicodePwd is AD's encoding of a password to set: the password in double
// quotes, UTF-16LE.
func unicodePwd(pw string) string {
	var b strings.Builder
	for _, r := range "\"" + pw + "\"" {
		if r >= 0x10000 {
			r1, r2 := utf16Pair(r)
			b.Write([]byte{byte(r1), byte(r1 >> 8), byte(r2), byte(r2 >> 8)})
			continue
		}
		b.Write([]byte{byte(r), byte(r >> 8)})
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

func (c *Connector) resetPassword(ctx context.Context, conn *goldap.Conn, j *job, user *goldap.Entry, res *connector.Result, secrets []string) error {
	res.Commands = []string{limit.Text(c.plan(j, user.DN, ""), limit.Command)}
	var pw, where string
	if j.passwordRef != "" {
		v, err := c.cfg.Secrets(ctx, j.passwordRef)
		if err != nil {
			return bad(j.op, "password: %v", err)
		}
		if v == "" {
			return bad(j.op, "password: %s is empty", j.passwordRef)
		}
		pw, where = v, j.passwordRef
	} else {
		v, err := randomPassword()
		if err != nil {
			return connector.Errorf(connector.Transient, "ldap.%s: random password: %v", j.op, err)
		}
		pw, where = v, "random, not kept"
	}
	secrets = append(secrets, pw)
	res.Outputs["password"] = where
	if c.cfg.Flavour == OpenLDAP {
		before := c.readPassword(conn, user.DN)
		// The password modify operation lets the server hash the value as
		// it is configured to (a userPassword replace would store it as
		// sent).
		if _, err := conn.PasswordModify(goldap.NewPasswordModifyRequest(user.DN, "", pw)); err != nil {
			return classify(j.op, errors.New(redact(err.Error(), secrets...)), true)
		}
		verified, err := c.checkNewPassword(conn, user, before, pw)
		if err != nil {
			return connector.Errorf(connector.Unknown, "ldap.%s: the directory accepted the new password of %s, but %s", j.op, user.DN, redact(err.Error(), secrets...))
		}
		res.Outputs["verified"] = verified
	} else {
		m := goldap.NewModifyRequest(user.DN, nil)
		m.Replace("unicodePwd", []string{unicodePwd(pw)})
		if err := conn.Modify(m); err != nil {
			return classify(j.op, errors.New(redact(err.Error(), secrets...)), true)
		}
		// AD never lets unicodePwd be read; its success answer is all
		// there is.
		res.Outputs["verified"] = "accepted by the directory (AD does not let a password be read back)"
	}
	res.Summary = fmt.Sprintf("reset the password of %s (%s): %s; this cannot be undone", j.user, user.DN, where)
	return nil
}

// readPassword returns the stored userPassword values, or nil when the
// service account may not read them.
func (c *Connector) readPassword(conn *goldap.Conn, dn string) []string {
	res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"userPassword"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return nil
	}
	return res.Entries[0].GetAttributeValues("userPassword")
}

// checkNewPassword reads the change back: the stored (hashed) value must
// differ from the one before, when the service account may read it; and
// the user must bind with the new password, unless the account is locked
// (then the bind would fail whatever the password).
func (c *Connector) checkNewPassword(conn *goldap.Conn, user *goldap.Entry, before []string, pw string) (string, error) {
	var how []string
	if before != nil {
		after := c.readPassword(conn, user.DN)
		if len(after) == 0 || slices.Equal(after, before) {
			return "", errors.New("userPassword reads back unchanged")
		}
		how = append(how, "userPassword read back changed")
	}
	if disabled, _, _ := c.state(user); !disabled {
		u, err := goldap.DialURL(c.cfg.URL, c.dialOpt...)
		if err != nil {
			return "", fmt.Errorf("checking with a bind: %v", err)
		}
		defer u.Close()
		u.SetTimeout(c.cfg.Timeout)
		if c.cfg.StartTLS {
			if err := u.StartTLS(c.tls); err != nil {
				return "", fmt.Errorf("checking with a bind: StartTLS: %v", err)
			}
		}
		if err := u.Bind(user.DN, pw); err != nil {
			return "", fmt.Errorf("a bind with the new password fails: %v", err)
		}
		how = append(how, "the user binds with it")
	}
	if len(how) == 0 {
		return "accepted by the directory (the account is locked and its password cannot be read)", nil
	}
	return strings.Join(how, "; "), nil
}

func (c *Connector) findGroup(conn *goldap.Conn, j *job) (*goldap.Entry, error) {
	filter := fmt.Sprintf("(&(cn=%s)(|(objectClass=groupOfNames)(objectClass=group)))", goldap.EscapeFilter(j.group))
	return findOne(conn, j.op, "group "+j.group, c.cfg.GroupsBase, filter, []string{"member"})
}

func isMember(g *goldap.Entry, dn string) bool {
	return slices.ContainsFunc(g.GetAttributeValues("member"), func(m string) bool { return dnEqual(m, dn) })
}

func (c *Connector) membership(conn *goldap.Conn, j *job, user *goldap.Entry, res *connector.Result) error {
	g, err := c.findGroup(conn, j)
	if err != nil {
		return err
	}
	want := j.op == "add_to_group"
	res.Outputs["group"], res.Outputs["group_dn"], res.Outputs["member"] = j.group, g.DN, want
	res.Commands = []string{limit.Text(c.plan(j, user.DN, g.DN), limit.Command)}
	if isMember(g, user.DN) == want {
		res.Outputs["already"] = true
		res.Summary = fmt.Sprintf("%s was already %s %s; nothing changed", j.user, map[bool]string{true: "a member of", false: "not in"}[want], g.DN)
		return nil
	}
	m := goldap.NewModifyRequest(g.DN, nil)
	if want {
		m.Add("member", []string{user.DN})
	} else {
		m.Delete("member", []string{user.DN})
	}
	if err := conn.Modify(m); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultObjectClassViolation) && !want {
			return bad(j.op, "%s is the last member of %s and the group's class needs one: %v", user.DN, g.DN, err)
		}
		return classify(j.op, err, true)
	}
	back, err := c.findGroup(conn, j)
	if err != nil {
		return &connector.Error{Class: connector.Unknown, Err: fmt.Errorf("ldap.%s: reading %s back: %w", j.op, g.DN, err)}
	}
	if isMember(back, user.DN) != want {
		return connector.Errorf(connector.Unknown, "ldap.%s: the directory accepted the change, but %s reads back with member %v", j.op, g.DN, !want)
	}
	res.Outputs["already"] = false
	if want {
		res.Summary = fmt.Sprintf("added %s to %s; read back a member", j.user, g.DN)
	} else {
		res.Summary = fmt.Sprintf("removed %s from %s; read back not a member", j.user, g.DN)
		res.Undo = c.undo(j)
	}
	return nil
}
