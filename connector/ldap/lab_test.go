package ldap

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// The test directory: a real slapd of the test's own, on a loopback port,
// with two databases. dc=example,dc=test is OpenLDAP with the ppolicy
// overlay (a default policy applies to every user, so a locked account's
// bind fails); dc=ad,dc=test stands in for Active Directory with
// Debian's msuser schema (userAccountControl, sAMAccountName, unicodePwd,
// the group class; sAMAccountName, which AD's securityPrincipal class
// brings, through extensibleObject): slapd stores those attributes but does not act on
// them, so on that side the tests check what is written and read back.
const (
	rootPW    = "root-7f3a"
	servicePW = "svc-pw-5c1d9e"
	alicePW   = "alice-pw-1"
	bobPW     = "bob-pw-2"
	olBase    = "dc=example,dc=test"
	adBase    = "dc=ad,dc=test"
	olService = "cn=riposte,ou=services," + olBase
	adService = "cn=riposte," + adBase
)

type lab struct {
	url     string
	secrets map[string]string
}

func (l *lab) resolve(_ context.Context, ref string) (string, error) {
	v, ok := l.secrets[strings.TrimPrefix(ref, "secret://")]
	if !ok {
		return "", fmt.Errorf("secret %s: no such secret", strings.TrimPrefix(ref, "secret://"))
	}
	return v, nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {dir}/ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {dir}/slapd.pid

database mdb
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw {rootpw}
directory {dir}/ol
overlay ppolicy
ppolicy_default "cn=default,ou=policies,dc=example,dc=test"
access to attrs=userPassword by dn.exact="cn=riposte,ou=services,dc=example,dc=test" write by anonymous auth by * none
access to * by dn.exact="cn=riposte,ou=services,dc=example,dc=test" write by * read

database mdb
suffix "dc=ad,dc=test"
rootdn "cn=admin,dc=ad,dc=test"
rootpw {rootpw}
directory {dir}/ad
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=riposte,dc=ad,dc=test" write by * read
`

const olData = `dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=example,dc=test
objectClass: organizationalUnit
ou: services

dn: ou=policies,dc=example,dc=test
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,dc=example,dc=test
objectClass: pwdPolicy
objectClass: device
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: cn=riposte,ou=services,dc=example,dc=test
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: riposte
userPassword: {servicepw}

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: {alicepw}

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
userPassword: {bobpw}

dn: uid=admin,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: admin
cn: Admin
sn: A

dn: cn=admins,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=test
member: uid=bob,ou=people,dc=example,dc=test

dn: cn=solo,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: solo
member: uid=bob,ou=people,dc=example,dc=test
`

const adData = `dn: dc=ad,dc=test
objectClass: dcObject
objectClass: organization
o: ad
dc: ad

dn: cn=riposte,dc=ad,dc=test
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: riposte
userPassword: {servicepw}

dn: cn=Carol,dc=ad,dc=test
objectClass: user
cn: Carol
sn: C
sAMAccountName: carol
userAccountControl: 66048

dn: cn=Dave,dc=ad,dc=test
objectClass: user
cn: Dave
sn: D
sAMAccountName: dave
userAccountControl: 512

dn: cn=Domain Admins,dc=ad,dc=test
objectClass: group
cn: Domain Admins
groupType: -2147483646
member: cn=Carol,dc=ad,dc=test
member: cn=Dave,dc=ad,dc=test
`

// adSchema is the part of Active Directory's schema the connector uses,
// as AD defines it (MS-ADA1, MS-ADA3, MS-ADSC).
const adSchema = `attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.90 NAME 'unicodePwd'
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.750 NAME 'groupType'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL
  MAY ( sAMAccountName $ userAccountControl $ unicodePwd ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL
  MUST cn MAY ( member $ groupType $ sAMAccountName ) )
`

func fill(s, dir string) string {
	return strings.NewReplacer("{dir}", dir, "{rootpw}", rootPW, "{servicepw}", servicePW, "{alicepw}", alicePW, "{bobpw}", bobPW).Replace(s)
}

// startSlapd starts the test directory and returns where it listens.
func startSlapd(t *testing.T) *lab {
	t.Helper()
	slapd := testenv.Command(t, "slapd", "slapd")
	slapadd := testenv.Command(t, "slapadd", "slapd")
	for _, f := range []string{"/usr/lib/ldap/ppolicy.so", "/usr/lib/ldap/back_mdb.so", "/etc/ldap/schema/inetorgperson.schema"} {
		_, err := os.Stat(f)
		testenv.Need(t, err == nil, "%s (install slapd): %v", f, err)
	}
	dir := t.TempDir()
	for _, d := range []string{"ol", "ad"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ad.schema"), []byte(adSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(fill(slapdConf, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	for base, data := range map[string]string{olBase: olData, adBase: adData} {
		ldif := filepath.Join(dir, base+".ldif")
		if err := os.WriteFile(ldif, []byte(fill(data, dir)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(slapadd, "-f", conf, "-b", base, "-l", ldif).CombinedOutput(); err != nil {
			t.Fatalf("slapadd %s: %v\n%s", base, err, out)
		}
	}
	port := freePort(t)
	url := fmt.Sprintf("ldap://127.0.0.1:%d", port)
	cmd := exec.Command(slapd, "-f", conf, "-h", url+"/", "-d", "0")
	logf, _ := os.Create(filepath.Join(dir, "slapd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := goldap.DialURL(url); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
			t.Fatalf("slapd did not start:\n%s", b)
		}
		time.Sleep(30 * time.Millisecond)
	}
	return &lab{url: url, secrets: map[string]string{"ldap-svc": servicePW}}
}

func (l *lab) openldap() Config {
	return Config{URL: l.url, Flavour: OpenLDAP, BindDN: olService, BindPassword: "secret://ldap-svc",
		UsersBase: "ou=people," + olBase, GroupsBase: "ou=groups," + olBase, Protect: []string{"Admin"}, Secrets: l.resolve}
}

func (l *lab) ad() Config {
	return Config{URL: l.url, Flavour: AD, BindDN: adService, BindPassword: "secret://ldap-svc",
		UsersBase: adBase, GroupsBase: adBase, Secrets: l.resolve}
}

// bind reports whether dn can bind with pw: what a user signing in sees.
func (l *lab) bind(t *testing.T, dn, pw string) error {
	t.Helper()
	c, err := goldap.DialURL(l.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Bind(dn, pw)
}

// read returns an entry's attribute values, read as the directory's
// administrator (not through the connector).
func (l *lab) read(t *testing.T, dn, attr string) []string {
	t.Helper()
	c, err := goldap.DialURL(l.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root := "cn=admin," + olBase
	if strings.HasSuffix(dn, adBase) {
		root = "cn=admin," + adBase
	}
	if err := c.Bind(root, rootPW); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValues(attr)
}
