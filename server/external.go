package server

import "github.com/nats-io/nats.go"

func connectExternal(url string) (*nats.Conn, error) {
	return nats.Connect(url, nats.Name("riposte-ingest"), nats.MaxReconnects(-1))
}
