package blob_test

import (
	"testing"

	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/internal/storetest"
)

func storetestSchemasAgree(t *testing.T) { storetest.SchemasAgree(t, blob.Schema) }
