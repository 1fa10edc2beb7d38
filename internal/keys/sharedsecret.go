package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
)

// LoadOrCreateSecret returns the random secret of size bytes stored at key in
// st, generating (crypto/rand) and storing it first if absent. It works under
// the storage lock named key, so every process sharing st gets the same
// secret. A stored secret of another size is an error (changing the size
// would silently change the secret). Used for fosite's global HMAC secret and
// cookie keys.
func LoadOrCreateSecret(ctx context.Context, st Storage, key string, size int) (secret []byte, err error) {
	if size <= 0 {
		return nil, fmt.Errorf("keys: secret %q: size %d must be positive", key, size)
	}
	if err := st.Lock(ctx, key); err != nil {
		return nil, fmt.Errorf("keys: lock %q: %w", key, err)
	}
	defer func() {
		if uerr := st.Unlock(context.WithoutCancel(ctx), key); uerr != nil && err == nil {
			secret, err = nil, fmt.Errorf("keys: unlock %q: %w", key, uerr)
		}
	}()

	data, err := st.Load(ctx, key)
	switch {
	case err == nil:
		if len(data) != size {
			return nil, fmt.Errorf("keys: stored secret %q has %d bytes, want %d", key, len(data), size)
		}
		return data, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("keys: load secret %q: %w", key, err)
	}

	secret = make([]byte, size)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("keys: generate secret %q: %w", key, err)
	}
	if err := st.Store(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("keys: store secret %q: %w", key, err)
	}
	return secret, nil
}
