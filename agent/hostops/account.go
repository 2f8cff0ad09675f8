package hostops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riposte-soar/riposte/openc2"
)

type accountTarget struct {
	UID         string `json:"uid"`
	AccountName string `json:"account_name"`
	Directory   string `json:"directory"`
}

// passwdEntry is one line of etc/passwd joined with its etc/shadow line.
type passwdEntry struct {
	Name     string
	UID      int
	Shell    string
	Password string // shadow field 2
	Expire   string // shadow field 8, days since 1970-01-01; "" = never
	inShadow bool
}

// accountState is what was there before the agent disabled an account,
// so enable restores it rather than guessing.
type accountState struct {
	Name           string    `json:"name"`
	UID            int       `json:"uid"`
	WasLocked      bool      `json:"was_locked"`
	ExpireBefore   string    `json:"expire_before"`
	PasswordSHA256 string    `json:"password_field_sha256"` // of the shadow field, to verify the restore without keeping the hash
	DisabledAt     time.Time `json:"disabled_at"`
	CommandID      string    `json:"command_id,omitempty"`
	Requester      string    `json:"requester,omitempty"`
	Incident       string    `json:"incident,omitempty"`
}

func (h *Host) readAccounts() ([]passwdEntry, error) {
	root := h.cfg.AccountRoot
	pw, err := readBounded(filepath.Join(root, "etc/passwd"), 64<<20)
	if err != nil {
		return nil, err
	}
	sh, err := readBounded(filepath.Join(root, "etc/shadow"), 64<<20)
	if err != nil {
		return nil, err
	}
	shadow := map[string][]string{}
	for _, line := range strings.Split(string(sh), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 8 {
			shadow[f[0]] = f
		}
	}
	var out []passwdEntry
	for _, line := range strings.Split(string(pw), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue // NIS compat lines are not local accounts
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		e := passwdEntry{Name: f[0], UID: uid, Shell: f[6]}
		if s, ok := shadow[f[0]]; ok {
			e.Password, e.Expire, e.inShadow = s[1], s[7], true
		}
		out = append(out, e)
	}
	return out, nil
}

func (h *Host) findAccount(t accountTarget) (passwdEntry, error) {
	const field = "target.er:account"
	if t.Directory != "" && t.Directory != "local" {
		return passwdEntry{}, errNotImpl("Option not supported: %s.directory %s (only local accounts)", field, quote(t.Directory))
	}
	if t.AccountName == "" && t.UID == "" {
		return passwdEntry{}, errBad(field, "account_name or uid required")
	}
	uid := -1
	if t.UID != "" {
		if err := checkText(field+".uid", t.UID, 10); err != nil {
			return passwdEntry{}, err
		}
		n, err := strconv.Atoi(t.UID)
		if err != nil || n < 0 || strconv.Itoa(n) != t.UID {
			return passwdEntry{}, errBad(field+".uid", "%s is not a decimal uid", quote(t.UID))
		}
		uid = n
	}
	if t.AccountName != "" {
		if err := checkName(field+".account_name", t.AccountName, accountRe, 32); err != nil {
			return passwdEntry{}, err
		}
	}
	accts, err := h.readAccounts()
	if err != nil {
		return passwdEntry{}, errFailed("reading accounts under %s: %v", h.cfg.AccountRoot, err)
	}
	var hits []passwdEntry
	for _, a := range accts {
		if (t.AccountName == "" || a.Name == t.AccountName) && (uid < 0 || a.UID == uid) {
			hits = append(hits, a)
		}
	}
	switch {
	case len(hits) == 0 && t.AccountName != "" && uid >= 0:
		return passwdEntry{}, errNotFound(field, "no local account %s with uid %d", quote(t.AccountName), uid)
	case len(hits) == 0 && t.AccountName != "":
		return passwdEntry{}, errNotFound(field+".account_name", "no local account %s", quote(t.AccountName))
	case len(hits) == 0:
		return passwdEntry{}, errNotFound(field+".uid", "no local account with uid %d", uid)
	case len(hits) > 1:
		var names []string
		for _, a := range hits {
			names = append(names, a.Name)
		}
		return passwdEntry{}, errBad(field+".uid", "uid %d is shared by %s; give account_name", uid, strings.Join(names, ", "))
	}
	if !hits[0].inShadow {
		return passwdEntry{}, errFailed("account %s has no etc/shadow entry under %s", hits[0].Name, h.cfg.AccountRoot)
	}
	return hits[0], nil
}

func (h *Host) usermodArgv(args ...string) ([]string, error) {
	tool, err := findTool("usermod")
	if err != nil {
		return nil, err
	}
	argv := []string{tool}
	if h.cfg.AccountRoot != "/" {
		argv = append(argv, "--prefix", h.cfg.AccountRoot)
	}
	return append(argv, args...), nil
}

// disableArgv locks the password and expires the account: the lock stops
// password logins, the expiry makes PAM's account phase refuse every
// method (SSH keys included). The shell is left alone so enable has one
// less thing to restore and service accounts run via `su -s` keep working
// once enabled.
func (h *Host) disableArgv(name string) ([]string, error) {
	return h.usermodArgv("--lock", "--expiredate", "1", name)
}

func (h *Host) enableArgv(name string, st accountState, current passwdEntry) []string {
	args := []string{}
	// usermod refuses to unlock "!" (it would leave an empty password),
	// and an account locked before the agent came must stay locked.
	if !st.WasLocked && strings.HasPrefix(current.Password, "!") && len(current.Password) > 1 {
		args = append(args, "--unlock")
	}
	args = append(args, "--expiredate", st.ExpireBefore, name)
	argv, _ := h.usermodArgv(args...)
	return argv
}

func (h *Host) accountStatePath(name string) string {
	return filepath.Join(h.cfg.DataDir, "accounts", name+".json")
}

// setAccount: set er:account with args.er.account_status.
func (h *Host) setAccount(ctx context.Context, c *call) (result, error) {
	var t accountTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	raw, ok := c.er["account_status"]
	if !ok {
		return result{}, errBad("args.er.account_status", "required (enabled or disabled)")
	}
	var status string
	if err := json.Unmarshal(raw, &status); err != nil || (status != "enabled" && status != "disabled") {
		return result{}, errBad("args.er.account_status", "must be enabled or disabled")
	}
	endSessions, err := boolArg(c, "end_sessions")
	if err != nil {
		return result{}, err
	}
	if status == "enabled" && endSessions {
		return result{}, errBad("args.x-riposte.end_sessions", "only valid with account_status disabled")
	}
	// Refuse a protected name before reading anything.
	if h.protected[t.AccountName] {
		return result{}, errForbidden("target.er:account", "%s is a protected account (protected_accounts)", quote(t.AccountName))
	}
	acct, err := h.findAccount(t)
	if err != nil {
		return result{}, err
	}
	if h.protected[acct.Name] {
		return result{}, errForbidden("target.er:account", "%s is a protected account (protected_accounts)", quote(acct.Name))
	}
	if _, err := findTool("usermod"); err != nil {
		return result{}, errNotImpl("Not supported on this host: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if status == "disabled" {
		return h.disableAccount(ctx, c, acct, endSessions)
	}
	return h.enableAccount(ctx, c, acct)
}

func accountUndo(name, status string) *openc2.Command {
	er, _ := json.Marshal(map[string]string{"account_status": status})
	return undoCmd("set", "er:account", map[string]string{"account_name": name},
		&openc2.Args{Profiles: map[string]json.RawMessage{"er": er}})
}

func isDisabled(a passwdEntry) bool { return strings.HasPrefix(a.Password, "!") && a.Expire == "1" }

func (h *Host) disableAccount(ctx context.Context, c *call, acct passwdEntry, endSessions bool) (result, error) {
	det := map[string]any{"account": acct.Name, "uid": acct.UID, "before": map[string]any{
		"locked": strings.HasPrefix(acct.Password, "!"), "expire": acct.Expire}}
	statePath := h.accountStatePath(acct.Name)
	_, stateErr := os.Stat(statePath)
	changed := false
	if !isDisabled(acct) {
		// Keep the first saved state: a repeated disable must not record
		// the disabled state as the one to go back to.
		if errors.Is(stateErr, os.ErrNotExist) {
			st := accountState{Name: acct.Name, UID: acct.UID, WasLocked: strings.HasPrefix(acct.Password, "!"),
				ExpireBefore: acct.Expire, PasswordSHA256: sha256Hex([]byte(acct.Password)),
				DisabledAt: c.meta.Now.UTC(), CommandID: c.meta.CommandID, Requester: c.meta.Requester, Incident: c.meta.Incident}
			if err := writeJSONAtomic(statePath, st); err != nil {
				return result{details: det}, errFailed("saving the account's state: %v", err)
			}
		}
		argv, err := h.disableArgv(acct.Name)
		if err != nil {
			return result{details: det}, errNotImpl("Not supported on this host: %v", err)
		}
		res, err := h.runTool(ctx, argv)
		det["exec"] = res
		if err != nil {
			return result{details: det}, errFailed("disabling %s: %v", acct.Name, err)
		}
		changed = true
	} else {
		det["already_disabled"] = true
	}
	if endSessions {
		killed, left, err := h.endSessions(ctx, acct.UID)
		det["sessions_ended"] = killed
		if err != nil {
			return result{details: det}, err
		}
		if len(left) > 0 {
			return result{details: det}, errFailed("account %s disabled, but processes %v of uid %d still run", acct.Name, left, acct.UID)
		}
	}
	after, err := h.findAccount(accountTarget{AccountName: acct.Name})
	if err != nil {
		return result{details: det}, errFailed("verification: %v", err)
	}
	det["after"] = map[string]any{"locked": strings.HasPrefix(after.Password, "!"), "expire": after.Expire}
	if !isDisabled(after) {
		return result{details: det}, errFailed("verification: shadow entry of %s is not locked and expired after usermod", acct.Name)
	}
	det["verified"] = "shadow password field starts with ! and expire is 1"
	text := fmt.Sprintf("account %s disabled (password locked, expired); verified in shadow", acct.Name)
	if !changed {
		text = fmt.Sprintf("account %s was already disabled; verified in shadow", acct.Name)
	}
	var undo *openc2.Command
	// Offer the enable only when this agent holds the state to go back to
	// (a retried disable included), not for an account disabled by others.
	if changed || stateErr == nil {
		undo = accountUndo(acct.Name, "enabled")
	}
	return result{text: text, details: det, undo: undo, verified: true}, nil
}

// endSessions stops every process whose real uid is the account's: a
// locked account does not log out a shell that is already open. All
// processes get SIGTERM together and share one grace, so a user with many
// processes cannot stretch the call; a few rounds catch children forked
// meanwhile.
func (h *Host) endSessions(ctx context.Context, uid int) (killed []int, left []int, err error) {
	if uid == 0 {
		return nil, nil, errForbidden("args.x-riposte.end_sessions", "refused for uid 0 (would stop every root process)")
	}
	type victim struct {
		proc  *os.Process
		pid   int
		start uint64
	}
	self := os.Getpid()
	for round := 0; round < 3 && ctx.Err() == nil; round++ {
		procs, _ := h.listProcesses()
		var vs []victim
		for _, pi := range procs {
			if pi.UID != uid || pi.PID == self || pi.Kernel || pi.State == "Z" {
				continue
			}
			proc, err := os.FindProcess(pi.PID)
			if err != nil {
				continue
			}
			// Re-read after taking the pidfd: the pid may have been reused.
			if now, err := h.readStat(pi.PID); err != nil || now.StartTime != pi.StartTime {
				proc.Release()
				continue
			}
			vs = append(vs, victim{proc, pi.PID, pi.StartTime})
		}
		if len(vs) == 0 {
			break
		}
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			for _, v := range vs {
				if !h.gone(v.pid, v.start) {
					_ = v.proc.Signal(sig)
				}
			}
			wait := h.cfg.KillGrace
			if sig == syscall.SIGKILL {
				wait = killWait
			}
			deadline := time.Now().Add(wait)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				all := true
				for _, v := range vs {
					all = all && h.gone(v.pid, v.start)
				}
				if all {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		for _, v := range vs {
			if h.gone(v.pid, v.start) {
				killed = append(killed, v.pid)
			}
			v.proc.Release()
		}
	}
	procs, _ := h.listProcesses()
	for _, pi := range procs {
		if pi.UID == uid && pi.PID != self && !pi.Kernel && pi.State != "Z" {
			left = append(left, pi.PID)
		}
	}
	return killed, left, nil
}

func (h *Host) enableAccount(ctx context.Context, c *call, acct passwdEntry) (result, error) {
	det := map[string]any{"account": acct.Name, "uid": acct.UID, "before": map[string]any{
		"locked": strings.HasPrefix(acct.Password, "!"), "expire": acct.Expire}}
	statePath := h.accountStatePath(acct.Name)
	var st accountState
	err := readJSON(statePath, &st)
	switch {
	case err == nil:
		det["restoring"] = map[string]any{"locked": st.WasLocked, "expire": st.ExpireBefore, "disabled_at": st.DisabledAt}
	case errors.Is(err, os.ErrNotExist):
		// Not disabled by this agent: enable means unlocked, no expiry.
		st = accountState{Name: acct.Name, WasLocked: false, ExpireBefore: ""}
		det["note"] = "no saved state (not disabled by this agent): unlocking and clearing the expiry"
	default:
		return result{details: det}, errFailed("reading saved state %s: %v", statePath, err)
	}
	changed := false
	if strings.HasPrefix(acct.Password, "!") != st.WasLocked || acct.Expire != st.ExpireBefore {
		argv := h.enableArgv(acct.Name, st, acct)
		if argv == nil {
			return result{details: det}, errNotImpl("Not supported on this host: usermod not found")
		}
		res, err := h.runTool(ctx, argv)
		det["exec"] = res
		if err != nil {
			return result{details: det}, errFailed("enabling %s: %v", acct.Name, err)
		}
		changed = true
	} else {
		det["already_enabled"] = true
	}
	after, err := h.findAccount(accountTarget{AccountName: acct.Name})
	if err != nil {
		return result{details: det}, errFailed("verification: %v", err)
	}
	det["after"] = map[string]any{"locked": strings.HasPrefix(after.Password, "!"), "expire": after.Expire}
	switch {
	case after.Expire != st.ExpireBefore:
		return result{details: det}, errFailed("verification: expire of %s is %q, expected %q", acct.Name, after.Expire, st.ExpireBefore)
	case st.PasswordSHA256 != "" && sha256Hex([]byte(after.Password)) != st.PasswordSHA256:
		return result{details: det}, errFailed("verification: password field of %s differs from the one saved when it was disabled", acct.Name)
	case st.PasswordSHA256 == "" && strings.HasPrefix(after.Password, "!") && len(after.Password) > 1:
		return result{details: det}, errFailed("verification: %s is still locked", acct.Name)
	}
	_ = os.Remove(statePath)
	det["verified"] = "shadow password field and expire equal the state before the disable"
	if !changed {
		return result{text: fmt.Sprintf("account %s was already enabled; verified in shadow", acct.Name), details: det, verified: true}, nil
	}
	return result{text: fmt.Sprintf("account %s enabled; verified in shadow", acct.Name), details: det,
		undo: accountUndo(acct.Name, "disabled"), verified: true}, nil
}
