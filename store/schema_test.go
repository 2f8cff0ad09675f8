package store_test

import (
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func TestControlSchemasAgree(t *testing.T) { storetest.SchemasAgree(t, store.ControlSchema) }
