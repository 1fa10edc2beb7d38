package caddyoidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cluster is several real Caddy processes with the same Caddyfile (but for
// their ports), sharing one database and one Caddy storage directory, behind
// a load balancer whose target the test chooses request by request.
type cluster struct {
	*env            // users file, shared storage, issuer (the balancer's URL)
	storage string  // the storage line inside oidc_provider
	nodes   []*node // the instances
	target  atomic.Int32
	lb      *httptest.Server
}

// node is one Caddy process of a cluster.
type node struct {
	c     *cluster
	name  string
	port  int
	admin int
	socks []*os.File // the sockets of port and admin: fd 3 and 4 in the process (listenSocket)
	down  []func()   // end refuse on socks after kill or stop
	cmd   *exec.Cmd
	done  chan struct{}
	log   *os.File
}

// newCluster prepares n instances on storage (e.g. "storage postgres <dsn>")
// and starts them.
func newCluster(t *testing.T, n int, clients, storage string) *cluster {
	t.Helper()
	bin := buildCaddy(t)
	e := newEnv(t, clients)
	c := &cluster{env: e, storage: storage}
	proxies := make([]*httputil.ReverseProxy, n)
	for i := range n {
		nd := &node{c: c, name: string(rune('A' + i))}
		var site, admin *os.File
		nd.port, site = listenSocket(t)
		nd.admin, admin = listenSocket(t)
		nd.socks = []*os.File{site, admin}
		c.nodes = append(c.nodes, nd)
		u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", nd.port))
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
		// Like a real balancer, send again a request whose connection
		// was reset before any answer (see TestReloadUnderLoad).
		proxies[i].Transport = &retryOnReset{http.DefaultTransport}
	}
	c.lb = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[c.target.Load()].ServeHTTP(w, r)
	}))
	t.Cleanup(c.lb.Close)
	c.issuer = c.lb.URL
	for _, nd := range c.nodes {
		nd.start(bin)
	}
	return c
}

// on sends the balancer's next requests to node i.
func (c *cluster) on(i int) { c.target.Store(int32(i)) }

// url is the node's own address, bypassing the balancer.
func (nd *node) url() string { return fmt.Sprintf("http://127.0.0.1:%d", nd.port) }

// caddyfile is the node's config: the same for every node but for ports.
func (nd *node) caddyfile(extra string) string {
	e := nd.c.env
	return fmt.Sprintf(`{
	admin fd/4 # 127.0.0.1:%[6]d
	auto_https off
	persist_config off
	storage file_system %[1]s/storage
	log {
		output file %[1]s/caddy-%[7]s.log
		level DEBUG
	}
}
http://127.0.0.1:%[2]d {
	bind fd/3
	oidc_provider %[3]s {
		users_file %[1]s/users.yml
		%[4]s
%[5]s
%[8]s
	}
	respond "app behind the provider" 200
}
`, e.dir, nd.port, e.issuer, nd.c.storage, e.clients, nd.admin, nd.name, extra)
}

// start runs `caddy run` for the node and waits until it serves discovery.
func (nd *node) start(bin string) {
	t := nd.c.t
	t.Helper()
	path := filepath.Join(nd.c.dir, "Caddyfile-"+nd.name)
	if err := os.WriteFile(path, []byte(nd.caddyfile("")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, serve := range nd.down {
		serve()
	}
	nd.down = nil
	nd.cmd = exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	nd.cmd.ExtraFiles = nd.socks // fd 3, fd 4
	nd.cmd.Env = append(os.Environ(), "HOME="+nd.c.dir, "XDG_DATA_HOME="+filepath.Join(nd.c.dir, "xdg-data"), "XDG_CONFIG_HOME="+filepath.Join(nd.c.dir, "xdg-config"))
	var err error
	if nd.log, err = os.OpenFile(filepath.Join(nd.c.dir, "process-"+nd.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		t.Fatal(err)
	}
	nd.cmd.Stdout, nd.cmd.Stderr = nd.log, nd.log
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(nd.cmd, nd.done)
	t.Cleanup(nd.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := probe.Get(nd.url() + "/.well-known/openid-configuration")
		if err == nil {
			closeBody(resp)
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-nd.done:
			t.Fatalf("node %s exited at start:\n%s\n%s", nd.name, nd.output(), nd.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not become ready:\n%s\n%s", nd.name, nd.output(), nd.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// output is what the node's process printed.
func (nd *node) output() string {
	b, _ := os.ReadFile(filepath.Join(nd.c.dir, "process-"+nd.name+".log"))
	return string(b)
}

// logText is the node's Caddy log.
func (nd *node) logText() string {
	b, _ := os.ReadFile(filepath.Join(nd.c.dir, "caddy-"+nd.name+".log"))
	return string(b)
}

// stop ends the process as a service manager does (SIGTERM).
func (nd *node) stop() {
	nd.signal(syscall.SIGTERM)
}

// kill ends the process at once (SIGKILL): no cleanup, no flush.
func (nd *node) kill() {
	nd.signal(syscall.SIGKILL)
}

func (nd *node) signal(sig syscall.Signal) {
	select {
	case <-nd.done:
		nd.refuse()
		return
	default:
	}
	_ = nd.cmd.Process.Signal(sig)
	select {
	case <-nd.done:
	case <-time.After(15 * time.Second):
		_ = nd.cmd.Process.Kill()
		<-nd.done
	}
	_ = nd.log.Close()
	nd.refuse()
}

// refuse makes the node's ports look closed while the process is gone
// (until start): the test still holds their sockets.
func (nd *node) refuse() {
	if nd.down != nil {
		return
	}
	for _, sock := range nd.socks {
		nd.down = append(nd.down, refuse(nd.c.t, sock))
	}
}

// reload loads the node's Caddyfile with extra lines inside oidc_provider
// through the admin API, as `caddy reload` does.
func (nd *node) reload(extra string) error {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/load", nd.admin), "text/caddyfile", strings.NewReader(nd.caddyfile(extra)))
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s", resp.Status)
	}
	return nil
}

// parallel runs fn(i) for i in [0, n) at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
