package all

import (
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/dnssink"
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
}
