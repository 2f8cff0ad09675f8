package normalize

import (
	"regexp"
	"strings"
)

// sshd messages. User names are chosen by whoever connects, so they may hold
// spaces or even " from "; the patterns anchor on the server-written tail
// (address, port) and take the user name greedily before it.
var (
	reSSHAuth       = regexp.MustCompile(`^(Accepted|Failed) (\S+) for (invalid user )?(.*) from (\S+) port (\d+)(?: (ssh\S*))?(?:: (.*))?$`)
	reSSHInvalid    = regexp.MustCompile(`^[Ii]nvalid user (.*) from (\S+?)(?: port (\d+))?$`)
	reSSHClosedUser = regexp.MustCompile(`^(Connection closed by|Disconnected from) (invalid user|authenticating user|user) (.*) (\S+) port (\d+)( \[preauth\])?$`)
	reSSHClosed     = regexp.MustCompile(`^(Connection closed by|Disconnected from|Received disconnect from|Connection reset by) (\S+) port (\d+)(.*)$`)
	reSSHMaxAuth    = regexp.MustCompile(`^(?:error: )?maximum authentication attempts exceeded for (invalid user )?(.*) from (\S+) port (\d+)(?: ssh\S*)?( \[preauth\])?$`)
	rePAMUser       = regexp.MustCompile(`\buser=(\S+)`)
	rePAMRhost      = regexp.MustCompile(`\brhost=(\S+)`)
	rePAMFor        = regexp.MustCompile(`for user ([^\s(]+)`)
)

// sshFields sets the fields of one sshd message. Authentication attempts
// (Accepted/Failed, "Invalid user", too many attempts) get event.action
// ssh_login; a disconnection gets ssh_disconnect, with outcome failure when
// it happened before authentication completed ([preauth]).
func sshFields(f map[string]any, msg string) {
	msg = strings.TrimSpace(msg)
	if m := reSSHAuth.FindStringSubmatch(msg); m != nil {
		f["event.action"] = "ssh_login"
		if m[1] == "Accepted" {
			f["event.outcome"] = "success"
		} else {
			f["event.outcome"] = "failure"
		}
		method, _, _ := strings.Cut(m[2], "/") // keyboard-interactive/pam
		f["ssh.method"] = method
		sshUser(f, m[4], m[3] != "")
		setIP(f, "source", m[5])
		setPort(f, "source.port", m[6])
		if m[8] != "" {
			f["ssh.key"] = m[8]
		}
		return
	}
	if m := reSSHMaxAuth.FindStringSubmatch(msg); m != nil {
		f["event.action"] = "ssh_login"
		f["event.outcome"] = "failure"
		f["event.reason"] = "maximum authentication attempts exceeded"
		sshUser(f, m[2], m[1] != "")
		setIP(f, "source", m[3])
		setPort(f, "source.port", m[4])
		return
	}
	if m := reSSHInvalid.FindStringSubmatch(msg); m != nil {
		f["event.action"] = "ssh_login"
		f["event.outcome"] = "failure"
		f["event.reason"] = "invalid user"
		sshUser(f, m[1], true)
		setIP(f, "source", m[2])
		if m[3] != "" {
			setPort(f, "source.port", m[3])
		}
		return
	}
	if m := reSSHClosedUser.FindStringSubmatch(msg); m != nil {
		f["event.action"] = "ssh_disconnect"
		preauth := m[6] != ""
		if preauth {
			f["event.outcome"] = "failure"
		}
		sshUser(f, m[3], m[2] == "invalid user")
		setIP(f, "source", m[4])
		setPort(f, "source.port", m[5])
		return
	}
	if m := reSSHClosed.FindStringSubmatch(msg); m != nil {
		f["event.action"] = "ssh_disconnect"
		if strings.HasSuffix(m[4], "[preauth]") {
			f["event.outcome"] = "failure"
		}
		setIP(f, "source", m[2])
		setPort(f, "source.port", m[3])
		return
	}
	if strings.HasPrefix(msg, "pam_unix(") {
		pamFields(f, msg)
	}
}

// sshUser sets user.name, and user.invalid when sshd said the user does not
// exist. An empty name (someone tried "") stays empty but is still flagged.
func sshUser(f map[string]any, name string, invalid bool) {
	f["user.name"] = name
	if invalid {
		f["user.invalid"] = true
	}
}

// pamFields reads the user and remote host of pam_unix messages
// ("authentication failure; ... rhost=1.2.3.4 user=root",
// "session opened for user alice(uid=1000) by (uid=0)").
func pamFields(f map[string]any, msg string) {
	if m := rePAMUser.FindStringSubmatch(msg); m != nil {
		setIfAbsent(f, "user.name", m[1])
	} else if m := rePAMFor.FindStringSubmatch(msg); m != nil {
		setIfAbsent(f, "user.name", m[1])
	}
	if m := rePAMRhost.FindStringSubmatch(msg); m != nil {
		setIP(f, "source", m[1])
	}
	if strings.Contains(msg, "authentication failure") {
		setIfAbsent(f, "event.outcome", "failure")
	}
}
