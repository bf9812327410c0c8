//go:build linux

package launch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Verify checks from the kernel side, in /proc, what the worker's own report
// (rpc.Hello.Confinement) can only claim: its uid and capabilities,
// no_new_privs, a seccomp filter, its own network and user namespaces and
// its address-space limit. Call it after the worker's Ready (the worker
// confines itself before that). It returns one line per check, in the
// layers' wording ("verified: active (…)" or "verified: NOT …"), and
// whether all held. Landlock leaves no trace in /proc; it is verified by
// the tests, not here.
func (p *Process) Verify() (lines []string, ok bool) {
	pid := p.Pid()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return []string{"verified: unavailable (" + err.Error() + ")"}, false
	}
	field := func(name string) string {
		for _, l := range strings.Split(string(status), "\n") {
			if v, found := strings.CutPrefix(l, name+":"); found {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	ok = true
	check := func(what string, good bool, detail string) {
		state := "active"
		if !good {
			state = "NOT active"
			ok = false
		}
		lines = append(lines, fmt.Sprintf("verified %s: %s (%s)", what, state, detail))
	}
	if p.plain {
		return []string{"verified: off (plain worker)"}, true
	}
	uid := strings.Fields(field("Uid"))
	if os.Geteuid() == 0 && p.has("userns: active") {
		check("uid", len(uid) == 4 && uid[1] == strconv.Itoa(NobodyID), "effective uid "+strings.Join(uid, "/"))
	}
	check("capabilities", strings.Trim(field("CapEff"), "0") == "" && strings.Trim(field("CapPrm"), "0") == "",
		"CapEff "+field("CapEff"))
	check("no_new_privs", field("NoNewPrivs") == "1", "NoNewPrivs "+field("NoNewPrivs"))
	check("seccomp", field("Seccomp") == "2", "mode "+field("Seccomp")+", "+field("Seccomp_filters")+" filter(s)")
	if p.has("netns: active") {
		mine, _ := os.Readlink("/proc/self/ns/net")
		its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		check("netns", err == nil && its != mine, "worker "+its+", kernel "+mine)
	}
	if p.has("fsroot: active") {
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		check("fsroot", err == nil && root != "/" && strings.HasSuffix(root, "(deleted)"), "root "+root)
	}
	if p.has("rlimits: active") {
		limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
		var as string
		for _, l := range strings.Split(string(limits), "\n") {
			if strings.HasPrefix(l, "Max address space") {
				as = strings.Fields(strings.TrimPrefix(l, "Max address space"))[0]
			}
		}
		check("rlimit_as", as != "" && as != "unlimited", "address space "+as+" bytes")
	}
	return lines, ok
}

func (p *Process) has(prefix string) bool {
	for _, l := range p.layers {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
