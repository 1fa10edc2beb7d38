package caddyoidc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

var (
	buildOnce sync.Once
	caddyBin  string
	buildErr  error
)

// buildCaddy builds examples/caddy (Caddy with this plugin) once per test run.
func buildCaddy(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "caddy-oidc-bin")
		if err != nil {
			buildErr = err
			return
		}
		caddyBin = filepath.Join(dir, "caddy")
		cmd := exec.Command("go", "build", "-tags=nobadger", "-o", caddyBin, "../examples/caddy")
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building caddy: %v", buildErr)
	}
	return caddyBin
}

// runProcess starts `caddy run` on e's Caddyfile as its own process and
// returns a function that stops it with SIGTERM, as a service manager does.
func (e *env) runProcess(bin string) func() {
	e.t.Helper()
	path := filepath.Join(e.dir, "Caddyfile")
	inProcess := e.sockFD
	e.sockFD = 3 // the first of cmd.ExtraFiles
	cf := e.caddyfile()
	e.sockFD = inProcess
	if err := os.WriteFile(path, []byte(cf), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.ExtraFiles = []*os.File{e.sock}
	if e.serving != nil { // stopped before (see refuse)
		e.serving()
		e.serving = nil
	}
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "XDG_DATA_HOME="+filepath.Join(e.dir, "xdg-data"), "XDG_CONFIG_HOME="+filepath.Join(e.dir, "xdg-config"))
	out, err := os.Create(filepath.Join(e.dir, "process.log"))
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if err := out.Close(); err != nil {
			e.t.Errorf("closing Caddy's log: %v", err)
		}
		e.serving = refuse(e.t, e.sock)
	}
	e.t.Cleanup(stop)
	e.waitReady()
	return stop
}

// TestRestartAcrossProcesses runs the provider as a real Caddy process, stops
// it, and starts a new process on the same data: the login session and the
// refresh token issued by the first process still work.
func TestRestartAcrossProcesses(t *testing.T) {
	bin := buildCaddy(t)
	e := newEnv(t, standardClients)
	stop := e.runProcess(bin)

	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	params := loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "alice")
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	stop()

	e.runProcess(bin)
	b.client.CloseIdleConnections()
	// The session from the first process: straight to the consent page.
	if p := b.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("the login session did not survive the restart: %d", p.status)
	}
	// The refresh token from the first process.
	r2 := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	fresh, err := r2.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("refresh after the restart: %v", err)
	}
	// The ID token the first process signed verifies against the new process's JWKS.
	if _, err := r2.verifier.Verify(ctx(t), rawIDToken(t, tok)); err != nil {
		t.Errorf("old ID token after the restart: %v", err)
	}
	if _, err := r2.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(fresh)); err != nil {
		t.Errorf("userinfo after the restart: %v", err)
	}
}
