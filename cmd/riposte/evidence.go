package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/fleet"
)

func evidenceCmd() *cobra.Command {
	c := &cobra.Command{Use: "evidence", Short: "Evidence collected by agents, with its chain of custody"}
	var server, token, output, incident, out string
	list := &cobra.Command{
		Use:   "list",
		Short: "Stored evidence: what, from which host, for which incident, who asked, SHA-256",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := "/api/v1/evidence"
			if incident != "" {
				path += "?incident=" + url.QueryEscape(incident)
			}
			return printList(c, server, token, output, path, "evidence", "ID\tHOST\tNAME\tSIZE\tINCIDENT\tREQUESTED BY\tSTORED\tSHA256",
				func(e fleet.Evidence) []any {
					return []any{e.ID, e.Hostname, e.Name, e.Size, dash(e.Incident), e.RequestedBy, stamp(e.StoredAt), e.SHA256}
				})
		},
	}
	list.Flags().StringVar(&incident, "incident", "", "only this incident's evidence")
	outputFlag(list, &output)
	get := &cobra.Command{
		Use:   "get ID --out FILE",
		Short: "Download an item and check it against its recorded SHA-256 (exit 1 on a mismatch)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newClient(server, token)
			if err != nil {
				return err
			}
			req, err := http.NewRequest("GET", cl.server+"/api/v1/evidence/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			req.Header.Set("Authorization", "Bearer "+cl.token)
			resp, err := cl.do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return negative("evidence %s: %s %s", args[0], resp.Status, safe(string(b)))
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			h := sha256.New()
			_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			got, want := hex.EncodeToString(h.Sum(nil)), resp.Header.Get("X-Riposte-SHA256")
			if got != want {
				return negative("%s: content hashes to %s, the record says %s", out, got, safe(want))
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: sha256 %s verified\n", out, got)
			return nil
		},
	}
	get.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	_ = get.MarkFlagRequired("out")
	for _, cmd := range []*cobra.Command{list, get} {
		serverFlags(cmd, &server, &token)
	}
	c.AddCommand(list, get)
	return c
}
