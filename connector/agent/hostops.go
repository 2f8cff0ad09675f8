package agent

import (
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/openc2"
)

// hostOp is a host operation: how its call becomes an OpenC2 command and
// how its success is undone.
type hostOp struct {
	connector.Operation
	build func(connector.Call) (map[string]any, error)
	undo  func(connector.Call, *openc2.Response) *connector.Undo
}

var hostOps = map[string]hostOp{}
