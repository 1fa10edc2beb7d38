// Package storetest is the conformance suite of internal/store: the behaviour
// every backend must have, run by each backend's tests against fresh
// databases. SQLite runs it on temporary files; PostgreSQL and MySQL/MariaDB
// on databases created for each test on a shared server (see [Postgres] and
// [MySQL]), which are dropped afterwards.
package storetest

import (
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Run runs the behaviour tests, each on a fresh, empty database from open
// (which closes it when the test ends).
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	runner := newRunner()
	for _, tc := range []struct {
		name string
		test func(*testing.T, *store.DB)
	}{
		{"RequestStorage", testRequestStorage},
		{"FormSecretsNotStored", testFormSecretsNotStored},
		{"AuthorizeCodeInvalidation", testAuthorizeCodeInvalidation},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshRotationRace", testRefreshRotationRace},
		{"RevokeByRequestID", testRevokeByRequestID},
		{"PARStorage", testPARStorage},
		{"GetClient", testGetClient},
		{"ClientAssertionJWT", testClientAssertionJWT},
		{"FositeEndToEnd", testFositeEndToEnd},
		{"DeferredDeletes", testDeferredDeletes},
		{"CodeBundle", testCodeBundle}, // bundle.go
		{"Transactions", testTransactions},
		{"ConcurrentWriters", testConcurrentWriters},
		{"DeleteExpired", testDeleteExpired},
		{"CollectGarbage", testCollectGarbage},
		{"CollectGarbageUnderChurn", testCollectGarbageUnderChurn},
		{"LoginSessions", testLoginSessions},
		{"LoginSessionInactivityFields", testLoginSessionInactivityFields},
		{"Consent", testConsent},
		{"Subject", testSubject},
		{"TOTPSecret", testTOTPSecret},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"WebAuthnRename", testWebAuthnRename}, // webauthn.go
		{"WebAuthnSecondFactor", testWebAuthnSecondFactor},
		{"WebAuthnUserHandle", testWebAuthnUserHandle},
		{"WebAuthnCeremony", testWebAuthnCeremony},
		{"RecentFailures", testRecentFailures},
		{"DeleteAttemptsBefore", testDeleteAttemptsBefore},
		{"LongValues", testLongValues},
		{"AdminLoginSessions", testAdminLoginSessions},
		{"AdminConsents", testAdminConsents},
		{"RevokeClientGrants", testRevokeClientGrants},
		{"DeviceGrants", testDeviceGrants}, // device.go
		{"LogoutSessions", testLogoutSessions},
		{"RecoveryCodes", testRecoveryCodes}, // recovery.go
		{"RecoveryCodeHygiene", testRecoveryCodeHygiene},
	} {
		runner.run(t, tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
	runner.wait()
}

// Database makes a fresh, empty database and returns a function opening
// handles on it, each standing for one Caddy instance. Handles are closed,
// and the database removed, when the test ends.
type Database func(t *testing.T) (open func() (*store.DB, error))

// RunShared runs the tests that need several instances on one database:
// migrations by concurrent starters, visibility of writes, and races for
// single-use values, each race run for many rounds of 2 to 8 goroutines
// spread over two instances, with exactly one winner every round.
func RunShared(t *testing.T, database Database) {
	runner := newRunner()
	for _, tc := range []struct {
		name string
		test func(*testing.T, func() (*store.DB, error))
	}{
		{"ConcurrentStart", testConcurrentStart},
		{"NewerSchemaRefused", testNewerSchemaRefused},
		{"Persistence", testPersistence},
		{"Visibility", testVisibility},
		{"AuthorizeCodeRace", testSharedCodeRace},
		{"RefreshRotationRace", testSharedRefreshRace},
		{"TOTPStepRace", testSharedTOTPRace},
		{"WebAuthnCeremonyRace", testSharedCeremonyRace},
		{"PARRace", testSharedPARRace},
		{"ClientAssertionJWTRace", testSharedJTIRace},
		{"SubjectRace", testSharedSubjectRace},
		{"ConsentRace", testSharedConsentRace},
		{"GCLease", testGCLease},
		{"GCLeaseRace", testGCLeaseRace},
	} {
		runner.run(t, tc.name, func(t *testing.T) { tc.test(t, database(t)) })
	}
	runner.wait()
}

// two opens two instances on one database.
func two(t *testing.T, open func() (*store.DB, error)) (a, b *store.DB) {
	t.Helper()
	var err error
	if a, err = open(); err != nil {
		t.Fatalf("open first instance: %v", err)
	}
	if b, err = open(); err != nil {
		t.Fatalf("open second instance: %v", err)
	}
	return a, b
}

// runner runs subtests a few at a time: database servers spend most of a
// test's time creating the database and its tables, waiting on the disk.
// The number is OIDC_TEST_PARALLEL, 4 by default (each test holds a few
// connections at most; the servers are shared).
type runner struct {
	sem chan struct{}
	wg  sync.WaitGroup
}

func newRunner() *runner {
	n, err := strconv.Atoi(os.Getenv("OIDC_TEST_PARALLEL"))
	if err != nil || n < 1 {
		n = 4
	}
	return &runner{sem: make(chan struct{}, n)}
}

func (r *runner) run(t *testing.T, name string, f func(t *testing.T)) {
	r.sem <- struct{}{}
	r.wg.Go(func() {
		defer func() { <-r.sem }()
		t.Run(name, f)
	})
}

func (r *runner) wait() { r.wg.Wait() }
