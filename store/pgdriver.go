package store

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/pgx/v5/stdlib"
)

// rebindConnector hands out pgx's database/sql connections wrapped so that
// every statement is rebound (Rebind) on its way in and Go bools become
// 0/1: the stores were written for SQLite, where a flag is an INTEGER
// column, and PostgreSQL refuses a boolean for a bigint. Doing both here,
// once, keeps each store's SQL the same text on both databases.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

type rebindConn struct{ c *stdlib.Conn }

var (
	_ driver.ConnPrepareContext = (*rebindConn)(nil)
	_ driver.ConnBeginTx        = (*rebindConn)(nil)
	_ driver.ExecerContext      = (*rebindConn)(nil)
	_ driver.QueryerContext     = (*rebindConn)(nil)
	_ driver.Pinger             = (*rebindConn)(nil)
	_ driver.NamedValueChecker  = (*rebindConn)(nil)
	_ driver.SessionResetter    = (*rebindConn)(nil)
)

func (r *rebindConn) Prepare(q string) (driver.Stmt, error) { return r.c.Prepare(Rebind(q)) }
func (r *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return r.c.PrepareContext(ctx, Rebind(q))
}
func (r *rebindConn) Close() error { return r.c.Close() }
func (r *rebindConn) Begin() (driver.Tx, error) {
	return r.c.BeginTx(context.Background(), driver.TxOptions{})
}
func (r *rebindConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return r.c.BeginTx(ctx, o)
}
func (r *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return r.c.ExecContext(ctx, Rebind(q), args)
}
func (r *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return r.c.QueryContext(ctx, Rebind(q), args)
}
func (r *rebindConn) Ping(ctx context.Context) error             { return r.c.Ping(ctx) }
func (r *rebindConn) ResetSession(ctx context.Context) error     { return r.c.ResetSession(ctx) }
func (r *rebindConn) CheckNamedValue(v *driver.NamedValue) error { return checkValue(v) }

func checkValue(v *driver.NamedValue) error {
	if b, ok := v.Value.(bool); ok {
		v.Value = int64(0)
		if b {
			v.Value = int64(1)
		}
	}
	return nil
}
