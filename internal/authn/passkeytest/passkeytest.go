// Package passkeytest is a software WebAuthn authenticator and client for
// tests: it answers the JSON options of navigator.credentials.create and
// .get with the JSON a browser would send back, using ES256 keys, "none"
// attestation, the UP and UV flags and a signature counter. Fields can be
// changed between calls to play a misbehaving client (wrong origin, no user
// verification, a counter going backwards).
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

// Authenticator is a platform authenticator together with the browser that
// talks to it.
type Authenticator struct {
	// Origin is what clientDataJSON claims (the page's origin).
	Origin string
	// UV sets the user-verified flag (a PIN or biometric check). New sets it.
	UV bool
	// Credentials are the keys created so far.
	Credentials []*Credential
}

// Credential is one key pair held by the authenticator.
type Credential struct {
	ID           []byte
	RPID         string
	UserHandle   []byte
	Key          *ecdsa.PrivateKey
	SignCount    uint32 // incremented before each assertion
	Discoverable bool   // created with a resident key: offered without allowCredentials
}

// New returns an authenticator for pages at origin, with user verification.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UV: true}
}

var b64 = base64.RawURLEncoding

type descriptor struct {
	ID string `json:"id"`
}

// Create answers PublicKeyCredentialCreationOptions (JSON) like
// navigator.credentials.create and returns the PublicKeyCredential JSON.
func (a *Authenticator) Create(options []byte) ([]byte, *Credential, error) {
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude   []descriptor `json:"excludeCredentials"`
		Selection struct {
			ResidentKey string `json:"residentKey"`
		} `json:"authenticatorSelection"`
		Extensions struct {
			CredProps bool `json:"credProps"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	if o.Challenge == "" || o.RP.ID == "" || o.User.ID == "" {
		return nil, nil, errors.New("passkeytest: creation options lack challenge, rp.id or user.id")
	}
	for _, c := range a.Credentials {
		if c.RPID == o.RP.ID && slices.ContainsFunc(o.Exclude, func(d descriptor) bool { return d.ID == b64.EncodeToString(c.ID) }) {
			return nil, nil, errors.New("passkeytest: InvalidStateError: a credential of this authenticator is excluded")
		}
	}
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: user.id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	c := &Credential{
		ID:           make([]byte, 16),
		RPID:         o.RP.ID,
		UserHandle:   handle,
		Key:          key,
		Discoverable: o.Selection.ResidentKey != "discouraged",
	}
	_, _ = rand.Read(c.ID)

	ecdh, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, nil, err
	}
	raw := ecdh.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256),
		XCoord:        raw[1:33],
		YCoord:        raw[33:],
	})
	if err != nil {
		return nil, nil, err
	}
	authData := a.authData(c.RPID, flagAT, c.SignCount)
	authData = append(authData, make([]byte, 16)...) // AAGUID: zero
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(c.ID)))
	authData = append(authData, c.ID...)
	authData = append(authData, cose...)
	attObj, err := webauthncbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{"none", map[string]any{}, authData})
	if err != nil {
		return nil, nil, err
	}
	ext := map[string]any{}
	if o.Extensions.CredProps {
		ext["credProps"] = map[string]any{"rk": c.Discoverable}
	}
	a.Credentials = append(a.Credentials, c)
	resp, err := json.Marshal(map[string]any{
		"id":    b64.EncodeToString(c.ID),
		"rawId": b64.EncodeToString(c.ID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64.EncodeToString(attObj),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults":  ext,
		"authenticatorAttachment": "platform",
	})
	return resp, c, err
}

// Get answers PublicKeyCredentialRequestOptions (JSON) like
// navigator.credentials.get with the first matching credential (from
// allowCredentials, or a discoverable one when the list is empty).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o struct {
		Challenge string       `json:"challenge"`
		RPID      string       `json:"rpId"`
		Allow     []descriptor `json:"allowCredentials"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	for _, c := range a.Credentials {
		if c.RPID != o.RPID {
			continue
		}
		if len(o.Allow) == 0 && c.Discoverable || slices.ContainsFunc(o.Allow, func(d descriptor) bool { return d.ID == b64.EncodeToString(c.ID) }) {
			return a.Assert(c, o.Challenge)
		}
	}
	return nil, errors.New("passkeytest: NotAllowedError: no matching credential")
}

// Assert signs challenge (base64url, as in the options) with c.
func (a *Authenticator) Assert(c *Credential, challenge string) ([]byte, error) {
	c.SignCount++
	authData := a.authData(c.RPID, 0, c.SignCount)
	clientData := a.clientData("webauthn.get", challenge)
	sum := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(slices.Clone(authData), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id":    b64.EncodeToString(c.ID),
		"rawId": b64.EncodeToString(c.ID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(c.UserHandle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

// authData is the fixed part: rpIdHash, flags, signCount.
func (a *Authenticator) authData(rpID string, flags byte, count uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags |= flagUP
	if a.UV {
		flags |= flagUV
	}
	return binary.BigEndian.AppendUint32(append(h[:], flags), count)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}
