package caddyoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI adds the provider's operations to Caddy's admin endpoint, under
// /oidc/, so they have the admin listener's protection (its address, unix
// socket permissions, origin checks and remote access control). Caddy
// loads it by itself; it has no configuration.
//
//	GET    /oidc/issuers                          the running issuers
//	GET    /oidc/sessions?user=U                  the user's login sessions
//	DELETE /oidc/sessions?user=U[&handle=H]       end one or all of them
//	GET    /oidc/consents?user=U[&client_id=C]    the user's remembered consents
//	DELETE /oidc/consents?user=U[&client_id=C]    forget one or all of them
//	DELETE /oidc/grants?client_id=C               revoke every code and token of a client
//	POST   /oidc/users/reload                     read the users file now
//	POST   /oidc/keys/rotate                      replace the generated signing keys now
//
// With several oidc_provider issuers, each request names one with
// issuer=<issuer URL>; with one, it may be left out. Answers are JSON;
// errors are Caddy's {"error": "..."} with a 4xx or 5xx status.
type AdminAPI struct {
	log *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.oidc",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision sets up the module.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.log = ctx.Logger(a)
	return nil
}

// adminBase is where the routes are mounted on the admin endpoint.
const adminBase = "/oidc/"

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminBase, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// route is one admin operation.
type route struct {
	method string
	serve  func(w http.ResponseWriter, r *http.Request, h *Handler) error
}

var adminRoutes = map[string][]route{
	"sessions": {
		{http.MethodGet, serveListSessions},
		{http.MethodDelete, serveRevokeSessions},
	},
	"consents": {
		{http.MethodGet, serveListConsents},
		{http.MethodDelete, serveRevokeConsents},
	},
	"grants":       {{http.MethodDelete, serveRevokeGrants}},
	"users/reload": {{http.MethodPost, serveReloadUsers}},
	"keys/rotate":  {{http.MethodPost, serveRotateKeys}},
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, adminBase), "/")
	if name == "issuers" {
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		list := make([]string, 0)
		for iss := range runningIssuers() {
			list = append(list, iss)
		}
		sort.Strings(list)
		return writeJSON(w, map[string][]string{"issuers": list})
	}
	routes, ok := adminRoutes[name]
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("resource not found: %s", r.URL.Path)}
	}
	i := slices.IndexFunc(routes, func(rt route) bool { return rt.method == r.Method })
	if i < 0 {
		return methodNotAllowed(r)
	}
	h, err := issuerHandler(r.URL.Query().Get("issuer"))
	if err != nil {
		return err
	}
	if err := routes[i].serve(w, r, h); err != nil {
		var apiErr caddy.APIError
		if !errors.As(err, &apiErr) {
			a.log.Error("admin request failed", zap.String("path", r.URL.Path), zap.Error(err))
		}
		return err
	}
	return nil
}

// runningIssuers returns the newest provisioned handler of every issuer
// that has one.
func runningIssuers() map[string]*Handler {
	out := map[string]*Handler{}
	issuers.Range(func(_, v any) bool {
		s, ok := v.(*issuerState)
		if !ok {
			return true
		}
		s.mu.Lock()
		for _, u := range s.users {
			if cur := out[s.issuer]; cur == nil || u.h.seq > cur.seq {
				out[s.issuer] = u.h
			}
		}
		s.mu.Unlock()
		return true
	})
	return out
}

// issuerHandler finds the running handler of issuer, or the only one.
func issuerHandler(issuer string) (*Handler, error) {
	running := runningIssuers()
	if issuer != "" {
		if h := running[strings.TrimSuffix(issuer, "/")]; h != nil {
			return h, nil
		}
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no running oidc_provider with issuer %q", issuer)}
	}
	switch len(running) {
	case 0:
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no oidc_provider is running")}
	case 1:
		for _, h := range running {
			return h, nil
		}
	}
	names := make([]string, 0, len(running))
	for iss := range running {
		names = append(names, iss)
	}
	sort.Strings(names)
	return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("several oidc_provider issuers are running; choose one with issuer=: %s", strings.Join(names, ", "))}
}

func serveListSessions(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	out, err := listSessions(r.Context(), h.db, h.issuer, user)
	if err != nil {
		return unavailable(err)
	}
	return writeJSON(w, out)
}

func serveRevokeSessions(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	handle := r.URL.Query().Get("handle")
	out, err := revokeSessionsNotify(r.Context(), h.provider, h.issuer, user, handle) // admin_ops.go
	if err != nil {
		return unavailable(err)
	}
	reason := "all sessions"
	if handle != "" {
		reason = "one session"
	}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionSessionsRevoked, User: user, Reason: reason, Actor: "admin", IP: remoteHost(r), Count: out.Revoked})
	return writeJSON(w, out)
}

func serveListConsents(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	out, err := listConsents(r.Context(), h.db, h.issuer, user, r.URL.Query().Get("client_id"))
	if err != nil {
		return unavailable(err)
	}
	return writeJSON(w, out)
}

func serveRevokeConsents(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	client := r.URL.Query().Get("client_id")
	out, err := revokeConsents(r.Context(), h.db, h.issuer, user, client)
	if err != nil {
		return unavailable(err)
	}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionConsentRevoked, User: user, Client: client, Actor: "admin", IP: remoteHost(r), Count: out.Revoked})
	return writeJSON(w, out)
}

func serveRevokeGrants(w http.ResponseWriter, r *http.Request, h *Handler) error {
	client, err := requiredParam(r, "client_id")
	if err != nil {
		return err
	}
	if !slices.Contains(h.clients, client) {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("issuer %s has no client %q", h.issuer, client)}
	}
	g, err := h.db.RevokeClientGrants(r.Context(), client)
	if err != nil {
		return unavailable(err)
	}
	out := RevokedJSON{Issuer: h.issuer, Client: client, Revoked: g.Codes + g.AccessTokens + g.RefreshTokens + g.PushedRequests, Grants: &g}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionGrantsRevoked, Client: client, Actor: "admin", IP: remoteHost(r), Count: out.Revoked})
	return writeJSON(w, out)
}

// reloader is a user source that can re-read its users on request.
type reloader interface {
	Reload() (int, error)
}

func serveReloadUsers(w http.ResponseWriter, r *http.Request, h *Handler) error {
	rl, ok := h.users.Users().(reloader)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotImplemented, Err: fmt.Errorf("the users backend of %s cannot be reloaded", h.issuer)}
	}
	n, err := rl.Reload()
	if err != nil {
		h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionUsersReloaded, Result: telemetry.ResultFailure, Actor: "admin", IP: remoteHost(r), Reason: err.Error()})
		return caddy.APIError{HTTPStatus: http.StatusUnprocessableEntity, Err: fmt.Errorf("the users file was not loaded; the users loaded before stay in effect: %w", err)}
	}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionUsersReloaded, Result: telemetry.ResultSuccess, Actor: "admin", IP: remoteHost(r), Count: int64(n)})
	return writeJSON(w, map[string]any{"issuer": h.issuer, "users": n})
}

func serveRotateKeys(w http.ResponseWriter, r *http.Request, h *Handler) error {
	kids, err := h.state.keys.RotateNow(r.Context())
	if errors.Is(err, keys.ErrNothingToRotate) {
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	}
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionKeysRotated, Actor: "admin", IP: remoteHost(r), Count: int64(len(kids))})
	return writeJSON(w, map[string]any{"issuer": h.issuer, "signing_kids": kids})
}

func requiredParam(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return "", caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("the %s parameter is required", name)}
	}
	return v, nil
}

func methodNotAllowed(r *http.Request) error {
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s %s", r.Method, r.URL.Path)}
}

// unavailable is a database failure: 503, the state is unchanged or unknown.
func unavailable(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
