package ldap

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/riposte-soar/riposte/connector"
)

var ctx = context.Background()

func mustNew(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func do(t *testing.T, c *Connector, op string, args map[string]any) connector.Result {
	t.Helper()
	res, err := c.Execute(ctx, connector.Call{Operation: op, Args: args})
	if err != nil {
		t.Fatalf("%s %v: %v", op, args, err)
	}
	return res
}

func isInvalidCredentials(err error) bool {
	return goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials)
}

// OpenLDAP: the disabled user cannot sign in, the enabled one can again;
// the undo the call returns is what enables it.
func TestOpenLDAPDisableEnable(t *testing.T) {
	l := startSlapd(t)
	c := mustNew(t, l.openldap())
	alice := "uid=alice,ou=people," + olBase
	if err := l.bind(t, alice, alicePW); err != nil {
		t.Fatalf("before: alice cannot bind: %v", err)
	}
	res := do(t, c, "disable_account", map[string]any{"user": "alice"})
	if err := l.bind(t, alice, alicePW); !isInvalidCredentials(err) {
		t.Fatalf("disabled alice binds: %v", err)
	}
	if got := l.read(t, alice, "pwdAccountLockedTime"); !slices.Equal(got, []string{"000001010000Z"}) {
		t.Fatalf("pwdAccountLockedTime = %v", got)
	}
	if res.Outputs["dn"] != alice || res.Outputs["state"] != "disabled" || res.Outputs["already"] != false {
		t.Errorf("outputs %v", res.Outputs)
	}
	if res.Undo == nil || res.Undo.Operation != "enable_account" || res.Undo.Args["user"] != "alice" {
		t.Fatalf("undo %+v", res.Undo)
	}
	// Bob is untouched.
	if err := l.bind(t, "uid=bob,ou=people,"+olBase, bobPW); err != nil {
		t.Fatalf("bob cannot bind: %v", err)
	}
	// Twice is once, and the second call does not claim the undo.
	again := do(t, c, "disable_account", map[string]any{"user": "alice"})
	if again.Outputs["already"] != true || again.Undo != nil {
		t.Errorf("second disable: outputs %v undo %+v", again.Outputs, again.Undo)
	}
	en := do(t, c, res.Undo.Operation, res.Undo.Args)
	if err := l.bind(t, alice, alicePW); err != nil {
		t.Fatalf("enabled alice cannot bind: %v", err)
	}
	if got := l.read(t, alice, "pwdAccountLockedTime"); len(got) != 0 {
		t.Fatalf("pwdAccountLockedTime left: %v", got)
	}
	if en.Outputs["state"] != "enabled" || en.Outputs["already"] != false || en.Undo != nil {
		t.Errorf("enable: outputs %v undo %+v", en.Outputs, en.Undo)
	}
	if again := do(t, c, "enable_account", map[string]any{"user": "alice"}); again.Outputs["already"] != true {
		t.Errorf("second enable: %v", again.Outputs)
	}
}

// A reset makes the old password fail; the new one is random and kept
// nowhere, or a secret's value, and is never in the result.
func TestOpenLDAPResetPassword(t *testing.T) {
	l := startSlapd(t)
	c := mustNew(t, l.openldap())
	bob := "uid=bob,ou=people," + olBase
	res := do(t, c, "reset_password", map[string]any{"user": "bob"})
	if err := l.bind(t, bob, bobPW); !isInvalidCredentials(err) {
		t.Fatalf("the old password still binds: %v", err)
	}
	if res.Outputs["password"] != "random, not kept" || res.Undo != nil || res.Outputs["verified"] != "userPassword read back changed; the user binds with it" {
		t.Errorf("outputs %v undo %+v", res.Outputs, res.Undo)
	}
	if stored := l.read(t, bob, "userPassword"); len(stored) != 1 || !strings.HasPrefix(stored[0], "{") {
		t.Errorf("the new password is stored as %q, not hashed", stored)
	}

	l.secrets["bob-new"] = "N3w-pass/for-bob"
	res = do(t, c, "reset_password", map[string]any{"user": "bob", "password": "secret://bob-new"})
	if err := l.bind(t, bob, "N3w-pass/for-bob"); err != nil {
		t.Fatalf("the new password does not bind: %v", err)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "N3w-pass") || strings.Contains(string(b), servicePW) {
		t.Fatalf("a password is in the result: %s", b)
	}
	if res.Outputs["password"] != "secret://bob-new" {
		t.Errorf("outputs %v", res.Outputs)
	}
	// A locked account's password is still checked (read back, no bind).
	do(t, c, "disable_account", map[string]any{"user": "bob"})
	if res := do(t, c, "reset_password", map[string]any{"user": "bob"}); res.Outputs["verified"] != "userPassword read back changed" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if op, _ := c.Spec().Operations["reset_password"]; op.Reversible != "" {
		t.Error("reset_password declares an undo it cannot do")
	}
	// A password written into the playbook is refused, and not echoed.
	_, err := c.Execute(ctx, connector.Call{Operation: "reset_password", Args: map[string]any{"user": "bob", "password": "Plain-Text-9"}})
	if err == nil || strings.Contains(err.Error(), "Plain-Text-9") {
		t.Fatalf("plain password: %v", err)
	}
}

func TestOpenLDAPGroups(t *testing.T) {
	l := startSlapd(t)
	c := mustNew(t, l.openldap())
	admins, bob := "cn=admins,ou=groups,"+olBase, "uid=bob,ou=people,"+olBase
	res := do(t, c, "remove_from_group", map[string]any{"user": "bob", "group": "admins"})
	if got := l.read(t, admins, "member"); !slices.Equal(got, []string{"uid=alice,ou=people," + olBase}) {
		t.Fatalf("members after removal: %v", got)
	}
	if res.Outputs["group_dn"] != admins || res.Outputs["member"] != false || res.Undo == nil || res.Undo.Operation != "add_to_group" {
		t.Fatalf("outputs %v undo %+v", res.Outputs, res.Undo)
	}
	if again := do(t, c, "remove_from_group", map[string]any{"user": "bob", "group": "admins"}); again.Outputs["already"] != true || again.Undo != nil {
		t.Errorf("second removal: %v %+v", again.Outputs, again.Undo)
	}
	do(t, c, res.Undo.Operation, res.Undo.Args)
	if got := l.read(t, admins, "member"); !slices.Contains(got, bob) || len(got) != 2 {
		t.Fatalf("members after undo: %v", got)
	}
	// groupOfNames needs a member: removing the last one is refused by
	// the directory, and said so.
	_, err := c.Execute(ctx, connector.Call{Operation: "remove_from_group", Args: map[string]any{"user": "bob", "group": "solo"}})
	if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "last member") {
		t.Fatalf("last member: %v", err)
	}
}

// Active Directory, on the slapd stand-in: the exact values AD acts on are
// written and read back (other userAccountControl flags kept; unicodePwd
// as AD wants it: the quoted password in UTF-16LE).
func TestADStandIn(t *testing.T) {
	l := startSlapd(t)
	c := mustNew(t, l.ad())
	carol := "cn=Carol," + adBase
	res := do(t, c, "disable_account", map[string]any{"user": "carol"})
	// 66048 = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD; + ACCOUNTDISABLE.
	if got := l.read(t, carol, "userAccountControl"); !slices.Equal(got, []string{"66050"}) {
		t.Fatalf("userAccountControl after disable = %v, want 66050", got)
	}
	if res.Outputs["userAccountControl"] != int64(66050) || res.Undo == nil {
		t.Fatalf("outputs %v undo %+v", res.Outputs, res.Undo)
	}
	do(t, c, res.Undo.Operation, res.Undo.Args)
	if got := l.read(t, carol, "userAccountControl"); !slices.Equal(got, []string{"66048"}) {
		t.Fatalf("userAccountControl after enable = %v, want 66048", got)
	}

	l.secrets["carol-new"] = "Pässwörd-𝄞1"
	do(t, c, "reset_password", map[string]any{"user": "carol", "password": "secret://carol-new"})
	want := utf16.Encode([]rune(`"Pässwörd-𝄞1"`))
	var wb []byte
	for _, u := range want {
		wb = append(wb, byte(u), byte(u>>8))
	}
	if got := l.read(t, carol, "unicodePwd"); len(got) != 1 || got[0] != string(wb) {
		t.Fatalf("unicodePwd = %x, want %x", got, wb)
	}

	grp := "cn=Domain Admins," + adBase
	res = do(t, c, "remove_from_group", map[string]any{"user": "dave", "group": "Domain Admins"})
	if got := l.read(t, grp, "member"); !slices.Equal(got, []string{carol}) {
		t.Fatalf("members: %v", got)
	}
	do(t, c, res.Undo.Operation, res.Undo.Args)
	if got := l.read(t, grp, "member"); len(got) != 2 {
		t.Fatalf("members after undo: %v", got)
	}
}

// Names are searched for, escaped: filter syntax matches nothing and
// changes nothing. Protected names and the bind account are refused.
func TestRefused(t *testing.T) {
	l := startSlapd(t)
	c := mustNew(t, l.openldap())
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"user": "*"}, "no entry matches (uid=\\2a)"},
		{map[string]any{"user": "alice)(uid=*"}, "no entry matches"},
		{map[string]any{"user": "admin"}, "protected"},
		{map[string]any{"user": "ADMIN"}, "protected"},
		{map[string]any{"user": ""}, "user"},
		{map[string]any{"user": "a\nb"}, "line break"},
		{map[string]any{"user": "alice", "group": "x"}, "unknown argument"},
	} {
		_, err := c.Execute(ctx, connector.Call{Operation: "disable_account", Args: tc.args})
		if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want a permanent error naming %q", tc.args, err, tc.want)
		}
	}
	if err := l.bind(t, "uid=alice,ou=people,"+olBase, alicePW); err != nil {
		t.Fatalf("alice was changed by a refused call: %v", err)
	}
	// The bind account, found through a base that holds it.
	cfg := l.openldap()
	cfg.UsersBase, cfg.UserAttr = olBase, "cn"
	if _, err := mustNew(t, cfg).Execute(ctx, connector.Call{Operation: "disable_account", Args: map[string]any{"user": "riposte"}}); err == nil || !strings.Contains(err.Error(), "own bind account") {
		t.Fatalf("bind account: %v", err)
	}
}

func TestFailures(t *testing.T) {
	l := startSlapd(t)
	call := connector.Call{Operation: "disable_account", Args: map[string]any{"user": "alice"}}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		class connector.Class
		want  string
	}{
		{"wrong bind password", func(c *Config) { l.secrets["wrong"] = "nope"; c.BindPassword = "secret://wrong" }, connector.Permanent, "invalid credentials"},
		{"missing secret", func(c *Config) { c.BindPassword = "secret://absent" }, connector.Permanent, "no such secret"},
		{"directory down", func(c *Config) { c.URL = "ldap://127.0.0.1:" + strconv.Itoa(freePort(t)) }, connector.Transient, "connecting"},
		{"no such base", func(c *Config) { c.UsersBase = "ou=nobody," + olBase }, connector.Permanent, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := l.openldap()
			tc.edit(&cfg)
			_, err := mustNew(t, cfg).Execute(ctx, call)
			if err == nil || connector.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (%v), want %v naming %q", err, connector.ClassOf(err), tc.class, tc.want)
			}
			if strings.Contains(err.Error(), servicePW) {
				t.Fatal("the bind password is in the error")
			}
		})
	}
}

// The dry run says what would change, without connecting or reading a
// secret.
func TestSimulate(t *testing.T) {
	read := 0
	cfg := Config{URL: "ldap://127.0.0.1:1", Flavour: AD, BindDN: "cn=svc,dc=ad,dc=test", BindPassword: "secret://x",
		UsersBase: "dc=ad,dc=test", GroupsBase: "dc=ad,dc=test",
		Secrets: func(context.Context, string) (string, error) { read++; return "", nil }}
	c := mustNew(t, cfg)
	for _, tc := range []struct {
		op   string
		args map[string]any
		cmd  string
		undo string
	}{
		{"disable_account", map[string]any{"user": "eve*"}, `LDAP modify (sAMAccountName=eve\2a) under dc=ad,dc=test: userAccountControl |= 2 (ACCOUNTDISABLE)`, "enable_account"},
		{"reset_password", map[string]any{"user": "eve"}, "LDAP modify (sAMAccountName=eve) under dc=ad,dc=test: replace unicodePwd [not shown]", ""},
		{"remove_from_group", map[string]any{"user": "eve", "group": "VPN"}, "LDAP modify (cn=VPN) under dc=ad,dc=test: delete member: (sAMAccountName=eve) under dc=ad,dc=test", "add_to_group"},
	} {
		res, err := c.Simulate(ctx, connector.Call{Operation: tc.op, Args: tc.args})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Commands, []string{tc.cmd}) {
			t.Errorf("%s: commands %q, want %q", tc.op, res.Commands, tc.cmd)
		}
		if (res.Undo == nil) != (tc.undo == "") || (res.Undo != nil && res.Undo.Operation != tc.undo) {
			t.Errorf("%s: undo %+v, want %q", tc.op, res.Undo, tc.undo)
		}
	}
	if read != 0 {
		t.Errorf("the dry run read %d secrets", read)
	}
}

func TestConfigErrors(t *testing.T) {
	sec := func(context.Context, string) (string, error) { return "", nil }
	ok := Config{URL: "ldaps://dc1.corp.example", Flavour: AD, BindDN: "cn=svc,dc=corp,dc=example", BindPassword: "secret://x",
		UsersBase: "dc=corp,dc=example", GroupsBase: "dc=corp,dc=example", Secrets: sec}
	if _, err := New(ok); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.URL = "ldap://dc1.corp.example" }, "in the clear"},
		{func(c *Config) { c.URL = "ldaps://dc1.corp.example"; c.StartTLS = true }, "start_tls is for ldap://"},
		{func(c *Config) { c.URL = "http://dc1" }, "scheme"},
		{func(c *Config) { c.Flavour = "novell" }, "flavour"},
		{func(c *Config) { c.BindPassword = "hunter2" }, "secret://NAME"},
		{func(c *Config) { c.Secrets = nil }, "secret store"},
		{func(c *Config) { c.UsersBase = "not a dn" }, "users_base"},
		{func(c *Config) { c.UserAttr = "uid)(x" }, "user_attr"},
		{func(c *Config) { c.CAFile = "/nonexistent.pem" }, "ca_file"},
	} {
		cfg := ok
		tc.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to name %q", err, tc.want)
		}
	}
	cfg := ok
	cfg.URL, cfg.StartTLS = "ldap://dc1.corp.example", true
	if _, err := New(cfg); err != nil {
		t.Errorf("ldap:// with start_tls refused: %v", err)
	}
	if refs := ok.References(); refs["connectors.ldap.bind_password"] != "x" {
		t.Errorf("References() = %v", refs)
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := randomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 32 || seen[p] || !strings.ContainsAny(p, "abcdefghijkmnopqrstuvwxyz") || !strings.ContainsAny(p, "ABCDEFGHJKLMNPQRSTUVWXYZ") ||
			!strings.ContainsAny(p, "23456789") || !strings.ContainsAny(p, "!#%+-.:=?@^_~") {
			t.Fatalf("weak or repeated password %q", p)
		}
		seen[p] = true
	}
}
