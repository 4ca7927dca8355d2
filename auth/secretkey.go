package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of the secret key (AES-256).
const KeySize = 32

// ParseKey decodes a secret key given as base64 (standard or URL alphabet, padded or not) or
// hex; it must be KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("auth: secret key must be %d bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)", KeySize)
}

// LoadOrCreateKeyFile reads the secret key from path, or creates the file with a new random key
// and mode 0600 when it does not exist. A key file readable by group or others is refused.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path) // #nosec G304 G703 -- path is the operator's configured data directory, not request input
	if err == nil {
		st, err := os.Stat(path) // #nosec G703 -- operator-configured path
		if err != nil {
			return nil, fmt.Errorf("auth: secret key file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("auth: secret key file %s has mode %o; want 0600 (chmod 600 %s)", path, st.Mode().Perm(), path)
		}
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("auth: secret key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil { // #nosec G703 -- operator-configured path
		return nil, fmt.Errorf("auth: secret key file: %w", err)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 G703 -- operator-configured path
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKeyFile(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("auth: secret key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // #nosec G703 -- operator-configured path
		return nil, fmt.Errorf("auth: secret key file: %w", werr)
	}
	return k, nil
}

// sealer encrypts small secrets at rest with AES-256-GCM. The additional data binds a
// ciphertext to its row, so a secret copied to another user's row does not decrypt.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

const sealPrefix = "v1:"

func (s *sealer) seal(plain, ad []byte) string {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return sealPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, ad))
}

var errUnseal = errors.New("auth: stored secret does not decrypt (wrong INFOWORK_SECRET_KEY?)")

func (s *sealer) open(sealed string, ad []byte) ([]byte, error) {
	raw, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errUnseal
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, errUnseal
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], ad)
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
