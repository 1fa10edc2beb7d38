package keys

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/certmagic"
)

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		key     string
		size    int
		wantErr bool
	}{
		{name: "hmac", key: "oidc/hmac_secret", size: 32},
		{name: "cookie", key: "oidc/cookie_key", size: 64},
		{name: "zero size", key: "oidc/zero", size: 0, wantErr: true},
	}
	st := newStorage(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := LoadOrCreateSecret(ctx, st, tc.key, tc.size)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != tc.size || bytes.Equal(a, make([]byte, tc.size)) {
				t.Fatalf("secret of %d bytes, all zero: %v", len(a), bytes.Equal(a, make([]byte, tc.size)))
			}
			b, err := LoadOrCreateSecret(ctx, &certmagic.FileStorage{Path: st.Path}, tc.key, tc.size)
			if err != nil || !bytes.Equal(a, b) {
				t.Fatalf("second call: equal %v, err %v", bytes.Equal(a, b), err)
			}
			if _, err := LoadOrCreateSecret(ctx, st, tc.key, tc.size+1); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("other size: err = %v", err)
			}
		})
	}
}

func TestLoadOrCreateSecretConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 3
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreateSecret(context.Background(), &certmagic.FileStorage{Path: dir}, "s", 32)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for i := range n {
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("goroutine %d got another secret", i)
		}
	}
}
