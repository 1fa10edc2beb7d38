package clients

import (
	"context"
	"strings"
	"testing"
)

func TestGenerateSecret(t *testing.T) {
	secret, digest, err := GenerateSecret(DefaultSecretLength)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != DefaultSecretLength || strings.Trim(secret, secretAlphabet) != "" {
		t.Errorf("secret %q: want %d characters of %s", secret, DefaultSecretLength, secretAlphabet)
	}
	if !strings.HasPrefix(digest, "$pbkdf2-sha512$310000$") {
		t.Errorf("digest %q", digest)
	}
	// The digest works as a client_secret, and only with the secret.
	s, err := parseClientSecret(digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.compare(context.Background(), secret); err != nil {
		t.Errorf("the secret does not match its digest: %v", err)
	}
	if err := s.compare(context.Background(), secret+"x"); err == nil {
		t.Error("another secret matches the digest")
	}
	other, _, err := GenerateSecret(MinSecretLength)
	if err != nil || len(other) != MinSecretLength || other == secret[:MinSecretLength] {
		t.Errorf("second secret %q, %v", other, err)
	}
	if _, _, err := GenerateSecret(MinSecretLength - 1); err == nil {
		t.Error("a short secret was generated")
	}
}
