package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/firewall"
)

// undoDirs are the host-operation folders whose content is needed to undo
// an action (a quarantined file, a configuration line's backup, a disabled
// account or service): deleting them makes that action permanent.
var undoDirs = []string{"quarantine", "config-backups", "accounts", "services"}

// UninstallResult says what Uninstall removed.
type UninstallResult struct {
	AgentID string   // the enrolled id, "" when the host never enrolled
	Tables  []string // the nftables tables deleted (they may not have existed)
	Removed []string // directories removed
}

// UndoMaterialError lists what an uninstall without purge would destroy.
type UndoMaterialError struct{ Paths []string }

func (e *UndoMaterialError) Error() string {
	return fmt.Sprintf("the agent still holds what undoes its host actions: %v; recover the incidents first (riposte incident recover ID) or pass --purge to delete it too", e.Paths)
}

// Uninstall removes what the agent put on this host: its nftables tables
// (the decisions and, if contained, the isolation) and its state (the data
// directory and the host operations' directory). It refuses while an agent
// runs on the data directory, since that agent would put the tables back,
// and, unless purge, while host operations' undo material is there.
func Uninstall(cfg Config, purge bool) (UninstallResult, error) {
	cfg.defaults()
	var res UninstallResult
	if cfg.Data == "" {
		return res, errors.New("agent: a data directory is required")
	}
	if err := CheckPrivilege(cfg.Table); err != nil {
		return res, err
	}
	if err := looksLikeData(cfg.Data); err != nil {
		return res, err
	}
	if c, err := net.DialTimeout("unix", filepath.Join(cfg.Data, SocketName), 2*time.Second); err == nil {
		c.Close()
		return res, fmt.Errorf("an agent is running on %s: stop it first (systemctl stop riposte-agent), or it puts its tables back", cfg.Data)
	}
	hostDir := cfg.HostOps.DataDir
	if hostDir == "" {
		hostDir = filepath.Join(cfg.Data, "host")
	}
	if !purge {
		var held []string
		for _, d := range undoDirs {
			p := filepath.Join(hostDir, d)
			if es, err := os.ReadDir(p); err == nil && len(es) > 0 {
				held = append(held, p)
			}
		}
		if len(held) > 0 {
			sort.Strings(held)
			return res, &UndoMaterialError{Paths: held}
		}
	}
	if id, err := loadIdentity(cfg.Data); err == nil {
		res.AgentID = id.AgentID
	}
	fw, err := firewall.Open(cfg.Table)
	if err != nil {
		return res, err
	}
	defer fw.Close()
	if err := fw.Release(); err != nil {
		return res, err
	}
	if err := fw.Remove(); err != nil {
		return res, err
	}
	res.Tables = []string{cfg.Table, cfg.Table + "_iso"}
	// A host operations' folder outside the data directory may be shared
	// with other files: only the agent's own subfolders go, then the folder
	// if that emptied it.
	if rel, err := filepath.Rel(cfg.Data, hostDir); err != nil || strings.HasPrefix(rel, "..") {
		for _, d := range append(undoDirs, "evidence") {
			p := filepath.Join(hostDir, d)
			if _, err := os.Lstat(p); err == nil {
				if err := os.RemoveAll(p); err != nil {
					return res, fmt.Errorf("remove %s: %w", p, err)
				}
				res.Removed = append(res.Removed, p)
			}
		}
		_ = os.Remove(hostDir)
	}
	if _, err := os.Lstat(cfg.Data); err == nil {
		if err := os.RemoveAll(cfg.Data); err != nil {
			return res, fmt.Errorf("remove %s: %w", cfg.Data, err)
		}
		res.Removed = append(res.Removed, cfg.Data)
	}
	return res, nil
}

// looksLikeData refuses to delete a directory the agent did not make (a
// mistyped --data): it must hold the agent's files, or nothing.
func looksLikeData(dir string) error {
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	for _, name := range []string{identityFile, "decisions.json"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s holds no %s or decisions.json: not an agent data directory, nothing removed", dir, identityFile)
}
