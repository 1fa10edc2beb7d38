package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// ConfiguredKey is a signing key from the provider's configuration (the
// jwks option, or Authelia's older issuer_private_key). Its private half is
// only ever in memory; the key manager stores the public half, to keep
// publishing it after it is replaced.
type ConfiguredKey struct {
	// KeyID is the kid in the JWKS and in the header of every token the key
	// signs.
	KeyID string
	// Algorithm is one of Algorithms that fits the key.
	Algorithm string
	// Key is the private key: RSA of 2048 to 4096 bits (RS*, PS*), ECDSA
	// P-256 (ES256), P-384 (ES384) or P-521 (ES512), or Ed25519 (EdDSA).
	Key crypto.Signer
	// Certificates is the optional X.509 chain of the key, leaf first,
	// published as x5c.
	Certificates []*x509.Certificate
}

// ParseConfiguredKey reads a configured signing key. keyPEM holds the
// private key (PKCS #1, PKCS #8 or SEC 1 PEM); chainPEM the optional
// certificate chain, leaf first. An empty keyID becomes the RFC 7638
// thumbprint, an empty alg is inferred from the key (DefaultAlgorithm), and
// use must be empty or "sig". Errors name the option (key,
// algorithm, use, certificate_chain) and never quote key material.
func ParseConfiguredKey(keyID, alg, use, keyPEM, chainPEM string) (ConfiguredKey, error) {
	var ck ConfiguredKey
	if use != "" && use != "sig" {
		return ck, fmt.Errorf("use: %q is not sig (signing keys only)", use)
	}
	priv, err := parsePrivateKeyPEM(keyPEM)
	if err != nil {
		return ck, fmt.Errorf("key: %w", err)
	}
	if alg == "" {
		alg = DefaultAlgorithm(priv.Public())
	}
	if !slices.Contains(Algorithms, alg) {
		return ck, fmt.Errorf("algorithm: %q is not one of %s", alg, strings.Join(Algorithms, ", "))
	}
	if _, err := checkKey(alg, priv, true); err != nil {
		return ck, fmt.Errorf("key: %w", err)
	}
	certs, err := parseChain(chainPEM, priv.Public())
	if err != nil {
		return ck, fmt.Errorf("certificate_chain: %w", err)
	}
	if keyID == "" {
		tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
		if err != nil {
			return ck, fmt.Errorf("key: thumbprint: %w", err)
		}
		keyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return ConfiguredKey{KeyID: keyID, Algorithm: alg, Key: priv, Certificates: certs}, nil
}

// ParsePublicJWK reads a public key given in PEM (PKIX "PUBLIC KEY", PKCS #1
// "RSA PUBLIC KEY", or a certificate), as a client's jwks lists them, and
// returns it as a JWK with use "sig". alg may be empty (any algorithm that
// fits the key), or one of RS256, RS384, RS512, PS256, PS384, PS512 for an
// RSA key and ES256, ES384, ES512 for the matching curve. Errors name the
// option.
func ParsePublicJWK(keyID, alg, use, keyPEM, chainPEM string) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if use != "" && use != "sig" && use != "enc" {
		return jwk, fmt.Errorf("use: %q is not sig or enc", use)
	}
	pub, err := parsePublicKeyPEM(keyPEM)
	if err != nil {
		return jwk, fmt.Errorf("key: %w", err)
	}
	if use == "enc" {
		// A key the provider encrypts responses to: RSA (RSA-OAEP*) or
		// EC (ECDH-ES*).
		var family string
		switch pub.(type) {
		case *rsa.PublicKey:
			family = "RSA-OAEP"
		case *ecdsa.PublicKey:
			family = "ECDH-ES"
		default:
			return jwk, fmt.Errorf("key: an encryption key must be RSA or EC")
		}
		if alg != "" && !strings.HasPrefix(alg, family) {
			return jwk, fmt.Errorf("algorithm: %q does not fit this encryption key (%s…)", alg, family)
		}
		certs, err := parseChain(chainPEM, pub)
		if err != nil {
			return jwk, fmt.Errorf("certificate_chain: %w", err)
		}
		return jose.JSONWebKey{Key: pub, KeyID: keyID, Algorithm: alg, Use: "enc", Certificates: certs}, nil
	}
	if alg != "" && !slices.Contains(AlgorithmsFor(pub), alg) {
		return jwk, fmt.Errorf("algorithm: %q does not fit this key (%s)", alg, strings.Join(AlgorithmsFor(pub), ", "))
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 || k.N.BitLen() > jose.MaxRSAModulusBits {
			return jwk, fmt.Errorf("key: RSA key of %d bits, want 2048 to %d", k.N.BitLen(), jose.MaxRSAModulusBits)
		}
	case *ecdsa.PublicKey:
		if len(AlgorithmsFor(pub)) == 0 {
			return jwk, fmt.Errorf("key: EC key on %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	}
	certs, err := parseChain(chainPEM, pub)
	if err != nil {
		return jwk, fmt.Errorf("certificate_chain: %w", err)
	}
	return jose.JSONWebKey{Key: pub, KeyID: keyID, Algorithm: alg, Use: "sig", Certificates: certs}, nil
}

// AlgorithmsFor lists the JWS algorithms a public key can verify: RS*/PS*
// for RSA, the ES algorithm of an ECDSA key's curve.
func AlgorithmsFor(pub crypto.PublicKey) []string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{EdDSA}
	}
	return nil
}

// pemBlocks decodes every PEM block of s. Text around blocks is ignored.
func pemBlocks(s string) ([]*pem.Block, error) {
	rest := []byte(strings.TrimSpace(s))
	var blocks []*pem.Block
	for len(bytes.TrimSpace(rest)) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return nil, errors.New("no PEM block found (expected -----BEGIN ...-----)")
	}
	return blocks, nil
}

func parsePrivateKeyPEM(s string) (crypto.Signer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("required (a PEM private key, e.g. {file./etc/caddy/oidc.pem})")
	}
	blocks, err := pemBlocks(s)
	if err != nil {
		return nil, err
	}
	var found crypto.Signer
	for _, b := range blocks {
		var key any
		var perr error
		switch b.Type {
		case "RSA PRIVATE KEY":
			key, perr = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, perr = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			key, perr = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "CERTIFICATE":
			continue // a chain pasted after the key: use certificate_chain
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			return nil, fmt.Errorf("PEM block %q is not a private key", b.Type)
		}
		if perr != nil {
			return nil, fmt.Errorf("%s: malformed", strings.ToLower(b.Type))
		}
		if found != nil {
			return nil, errors.New("more than one private key")
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		found = signer
	}
	if found == nil {
		return nil, errors.New("no private key in the PEM data")
	}
	return found, nil
}

func parsePublicKeyPEM(s string) (crypto.PublicKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("required (a PEM public key)")
	}
	blocks, err := pemBlocks(s)
	if err != nil {
		return nil, err
	}
	if len(blocks) != 1 {
		return nil, errors.New("want exactly one PEM block (put certificates in certificate_chain)")
	}
	b := blocks[0]
	var key any
	switch b.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
			key = cert.PublicKey
		}
	case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("this is a private key: a client's jwks holds its public keys only")
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: malformed", strings.ToLower(b.Type))
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (RSA or EC)", key)
}

// parseChain reads an optional certificate chain, leaf first: the leaf must
// certify pub and each certificate must be signed by the next.
func parseChain(s string, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	blocks, err := pemBlocks(s)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", i, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", i, err)
		}
		certs = append(certs, c)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := pub.(equaler); !ok || !e.Equal(certs[0].PublicKey) {
		return nil, errors.New("the first certificate does not certify the key")
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("certificate %d is not signed by certificate %d: %v", i, i+1, err)
		}
	}
	return certs, nil
}

// checkKey checks that key (private when private is set, else public) fits
// alg (one of Algorithms, AlgorithmsFor the key) and returns its public
// half.
func checkKey(alg string, key any, private bool) (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	isPrivate := true
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	case ed25519.PrivateKey:
		pub = k.Public()
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		pub, isPrivate = k, false
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	switch {
	case private && !isPrivate:
		return nil, errors.New("public key only, a private key is required")
	case !private && isPrivate:
		return nil, errors.New("a private key where a public one is expected")
	}
	fits := AlgorithmsFor(pub)
	if len(fits) == 0 {
		if k, ok := pub.(*ecdsa.PublicKey); ok {
			return nil, fmt.Errorf("EC key on %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
		}
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
	if !slices.Contains(fits, alg) {
		return nil, fmt.Errorf("%s key with alg %q, want one of %s", keyType(pub), alg, strings.Join(fits, ", "))
	}
	if k, ok := pub.(*rsa.PublicKey); ok {
		if err := checkRSASize(k.N.BitLen()); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// keyType names a public key's type for error messages.
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// DefaultAlgorithm is the algorithm a key signs with when the
// configuration names none: RS256 for RSA, the ES algorithm of an EC
// key's curve, EdDSA for Ed25519; "" for other keys.
func DefaultAlgorithm(pub crypto.PublicKey) string {
	if algs := AlgorithmsFor(pub); len(algs) > 0 {
		return algs[0]
	}
	return ""
}

func checkRSASize(bits int) error {
	if bits < 2048 {
		return fmt.Errorf("RSA key of %d bits, want at least 2048", bits)
	}
	if bits > jose.MaxRSAModulusBits {
		return fmt.Errorf("RSA key of %d bits, want at most %d", bits, jose.MaxRSAModulusBits)
	}
	return nil
}
