package ldaptest

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// StartProvider runs slapd as Start does, with the syncprov overlay, so that
// replicas made by StartReplica copy its data.
func StartProvider(t testing.TB, ldif string) *Server {
	t.Helper()
	return start(t, ldif, options{
		memberOf: true, seed: true,
		modules: "moduleload syncprov",
		extra:   "overlay syncprov",
	})
}

// StartReplica runs a read-only slapd that copies provider by syncrepl
// (refreshAndPersist) and answers every write with a referral to the
// provider (updateref), as a read-only directory replica does. It returns
// once the replica holds the provider's base entry.
func StartReplica(t testing.TB, provider *Server) *Server {
	t.Helper()
	return StartReplicaReferring(t, provider, provider.URL)
}

// StartReplicaReferring is StartReplica with writes referred to updateRef
// rather than to the provider (a chain of referrals).
func StartReplicaReferring(t testing.TB, provider *Server, updateRef string) *Server {
	t.Helper()
	extra := fmt.Sprintf(`syncrepl rid=001 provider=%[1]s bindmethod=simple binddn="%[2]s" credentials=%[3]s searchbase="%[4]s" type=refreshAndPersist retry="1 +"
updateref %[5]s`, provider.URL, AdminDN, AdminPassword, BaseDN, updateRef)
	s := start(t, "", options{extra: extra})
	s.WaitFor(BaseDN)
	return s
}

// WaitFor waits (at most 15s) until the server holds the entry dn, as a
// replica does once it has copied it.
func (s *Server) WaitFor(dn string) {
	s.t.Helper()
	var out []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		cmd := exec.Command("ldapsearch", "-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword, "-b", dn, "-s", "base", "1.1")
		if out, err = cmd.CombinedOutput(); err == nil {
			return
		}
	}
	s.t.Fatalf("%s never held %s:\n%s", s.URL, dn, out)
}
