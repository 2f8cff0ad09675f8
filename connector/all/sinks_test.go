package all

import (
	"context"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/dnssink"
	"github.com/riposte-soar/riposte/connector/ldap"
)

// The directory and DNS connectors are registered when configured, and a
// bad configuration stops the node rather than leaving them out quietly.
func TestRegisterDirectoryAndDNS(t *testing.T) {
	reg := connector.NewRegistry()
	if err := Register(reg, Deps{DNSSink: &dnssink.Config{Resolver: "127.0.0.1:53", Sinkhole: "192.0.2.53"}}); err != nil {
		t.Fatal(err)
	}
	if op, ok := reg.Operation("dnssink", "sinkhole_domain"); !ok || op.Reversible != "unsinkhole_domain" {
		t.Fatalf("dnssink.sinkhole_domain: %+v %v", op, ok)
	}
	if err := Register(connector.NewRegistry(), Deps{DNSSink: &dnssink.Config{Sinkhole: "192.0.2.53"}}); err == nil {
		t.Fatal("dnssink without a resolver accepted")
	}
	lc := ldap.Config{URL: "ldaps://dc1.corp.example", Flavour: ldap.AD, BindDN: "cn=svc,dc=corp,dc=example", BindPassword: "secret://ldap",
		UsersBase: "dc=corp,dc=example", GroupsBase: "dc=corp,dc=example", Secrets: func(context.Context, string) (string, error) { return "", nil }}
	reg = connector.NewRegistry()
	if err := Register(reg, Deps{LDAP: &lc}); err != nil {
		t.Fatal(err)
	}
	if op, ok := reg.Operation("ldap", "disable_account"); !ok || op.Reversible != "enable_account" {
		t.Fatalf("ldap.disable_account: %+v %v", op, ok)
	}
	lc.BindPassword = "hunter2"
	if err := Register(connector.NewRegistry(), Deps{LDAP: &lc}); err == nil {
		t.Fatal("ldap with a clear-text bind password accepted")
	}
}
