package firewall

import (
	"testing"
	"time"

	"github.com/google/nftables"
)

func TestTmpPhases(t *testing.T) {
	e := enter(t)
	defer e.close()
	ds := mixedDecisions(10000, 10000)
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		now := time.Now()
		el, rs, _ := plan(ds, now)
		t1 := time.Now()
		msgs, err := encode(func(c *nftables.Conn) error { return e.fw.build(c, el, rs, now) })
		if err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		if err := e.fw.send(msgs); err != nil {
			t.Fatal(err)
		}
		t3 := time.Now()
		n := 0
		for _, m := range msgs {
			n += len(m.Data) + 16
		}
		t.Logf("plan %v encode %v send %v (%d msgs, %d bytes)", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), len(msgs), n)
	}
}
