// Package ldaptest runs a throwaway OpenLDAP slapd for tests: a generated
// configuration and database under a temporary directory, free loopback
// ports for ldap:// (with StartTLS) and ldaps:// with a test CA, the
// memberof overlay and the ppolicy schema (Authelia's rfc2307bis groups
// filter names pwdReset), and an LDIF loaded with ldapadd. It needs Debian's
// slapd and ldap-utils packages (.ci/setup.sh); without them the tests fail
// and say so, as the project's other tool-dependent tests do.
package ldaptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Directory constants of every server.
const (
	BaseDN        = "dc=example,dc=com"
	AdminDN       = "cn=admin," + BaseDN
	AdminPassword = "admin-secret"
)

// Server is one running slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:port (StartTLS available)
	LDAPSURL string // ldaps://127.0.0.1:port
	CAPEM    []byte // the test CA that signed the server certificate
	CAPool   *x509.CertPool

	t    testing.TB
	dir  string
	conf string
	cmd  *exec.Cmd
}

// Start runs slapd with the LDIF entries (after the base entry, which it
// creates) and stops it when the test ends.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	return start(t, ldif, options{memberOf: true, seed: true})
}

// options vary the generated configuration (replica.go).
type options struct {
	memberOf bool   // load the memberof overlay
	seed     bool   // add the base entry and ldif with ldapadd
	extra    string // more database directives, after the others
	modules  string // more moduleload lines
}

func start(t testing.TB, ldif string, o options) *Server {
	t.Helper()
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		slapd = "/usr/sbin/slapd" // not on a user's PATH on Debian
		if _, err := os.Stat(slapd); err != nil {
			t.Fatalf("slapd is not installed: run .ci/setup.sh (apt-get install slapd ldap-utils)")
		}
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		t.Fatalf("ldapadd is not installed: run .ci/setup.sh (apt-get install slapd ldap-utils)")
	}
	dir := t.TempDir()
	s := &Server{t: t, dir: dir}
	s.writeTLS()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.conf = filepath.Join(dir, "slapd.conf")
	memberOf := ""
	if o.memberOf {
		memberOf = "overlay memberof"
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload ppolicy
%[5]s
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/cert.pem
TLSCertificateKeyFile %[1]s/key.pem
password-hash {SSHA}
database mdb
maxsize 33554432
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
%[6]s
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
%[7]s
`, dir, BaseDN, AdminDN, AdminPassword, o.modules, memberOf, o.extra)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.URL = "ldap://127.0.0.1:" + freePort(t)
	s.LDAPSURL = "ldaps://127.0.0.1:" + freePort(t)
	s.start(slapd)
	t.Cleanup(s.Stop)
	if !o.seed {
		return s
	}
	base := fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", BaseDN)
	s.Apply("ldapadd", base+ldif)
	return s
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func (s *Server) start(slapd string) {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = log.Close() }()
	cmd := exec.Command(slapd, "-d", "0", "-f", s.conf, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting slapd: %v", err)
	}
	s.cmd = cmd
	addr := strings.TrimPrefix(s.URL, "ldap://")
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return
		}
	}
	out, _ := os.ReadFile(filepath.Join(s.dir, "slapd.log"))
	s.Stop()
	s.t.Fatalf("slapd did not start:\n%s", out)
}

// Stop stops slapd; the database stays for Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Restart starts the stopped slapd again on the same ports and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		slapd = "/usr/sbin/slapd"
	}
	s.start(slapd)
}

// Apply runs ldapadd or ldapmodify (tool) as the admin with the LDIF.
func (s *Server) Apply(tool, ldif string) {
	s.t.Helper()
	cmd := exec.Command(tool, "-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

// TLSConfig trusts the test CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CAPool, MinVersion: tls.VersionTLS12, ServerName: "127.0.0.1"}
}

// CAFile is the path of the test CA's PEM file.
func (s *Server) CAFile() string { return filepath.Join(s.dir, "ca.pem") }

// writeTLS creates a CA and a server certificate for 127.0.0.1/localhost.
func (s *Server) writeTLS() {
	t := s.t
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ldaptest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(ca)
	for name, data := range map[string][]byte{
		"ca.pem":   s.CAPEM,
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
