package analyzers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

//go:embed dict/jieba.dict.utf8.gz dict/hmm_model.utf8.gz dict/idf.utf8.gz dict/stop_words.utf8.gz dict/user.dict.utf8 dict/synonyms.txt
var dictFS embed.FS

// Names of the embedded dictionaries.
const (
	dictMain = "jieba.dict.utf8"
	dictHMM  = "hmm_model.utf8"
	dictIDF  = "idf.utf8"
	dictStop = "stop_words.utf8"
	dictUser = "user.dict.utf8"
	// dictSynonyms is read from the embedded FS only (never extracted): synonyms are applied in
	// Go at query time.
	dictSynonyms = "synonyms.txt"
	hashBytes    = 6 // 12 hex digits in file and directory names
)

// embeddedHash is a short hash over all embedded dictionaries, used in the default cache dir.
func embeddedHash() (string, error) {
	h := sha256.New()
	for _, name := range []string{dictMain + ".gz", dictHMM + ".gz", dictIDF + ".gz", dictStop + ".gz", dictUser} {
		b, err := dictFS.ReadFile("dict/" + name)
		if err != nil {
			return "", fmt.Errorf("read embedded dictionary %s: %w", name, err)
		}
		h.Write([]byte(name))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:hashBytes]), nil
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:hashBytes])
}

// extractGz writes the embedded gzip dictionary name to dir under a content-hashed file name and
// returns its path. An existing file with that name already holds the same content (files appear
// only by rename), so it is reused.
func extractGz(dir, name string) (string, error) {
	gz, err := dictFS.ReadFile("dict/" + name + ".gz")
	if err != nil {
		return "", fmt.Errorf("read embedded dictionary %s: %w", name, err)
	}
	path := filepath.Join(dir, hashedName(name, shortHash(gz)))
	if fi, err := os.Stat(path); err == nil && len(gz) >= 4 && fi.Size() == int64(binary.LittleEndian.Uint32(gz[len(gz)-4:])) {
		return path, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", fmt.Errorf("decompress dictionary %s: %w", name, err)
	}
	if err := writeAtomic(path, zr); err != nil {
		return "", fmt.Errorf("extract dictionary %s: %w", name, err)
	}
	return path, nil
}

// writeContent writes b to dir under a content-hashed name unless it is already there.
func writeContent(dir, name string, b []byte) (string, error) {
	path := filepath.Join(dir, hashedName(name, shortHash(b)))
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(len(b)) {
		return path, nil
	}
	if err := writeAtomic(path, bytes.NewReader(b)); err != nil {
		return "", fmt.Errorf("write dictionary %s: %w", name, err)
	}
	return path, nil
}

// hashedName turns "jieba.dict.utf8" into "jieba.dict.<hash>.utf8".
func hashedName(name, hash string) string {
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// writeAtomic writes r to a temporary file beside path and renames it into place, so a reader
// (another process included) never sees a half-written dictionary.
func writeAtomic(path string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// readStopWords loads the embedded stop-word list, normalized like text.
func readStopWords() (map[string]struct{}, error) {
	gz, err := dictFS.ReadFile("dict/" + dictStop + ".gz")
	if err != nil {
		return nil, fmt.Errorf("read embedded stop words: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("decompress stop words: %w", err)
	}
	stop := make(map[string]struct{}, 2048)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		w := strings.TrimSpace(normalize(sc.Text()).s)
		if w != "" && !strings.ContainsRune(w, ' ') {
			stop[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read stop words: %w", err)
	}
	return stop, nil
}

// userDictLines normalizes a jieba user dictionary ("word [freq] [tag]" per line, # comments) to
// the form cppjieba reads: the word normalized like text, then either nothing or "freq tag".
// cppjieba reads a two-field line as "word tag", so "word freq" becomes "word freq n".
func userDictLines(src []byte, out *bytes.Buffer) {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		word := strings.ReplaceAll(normalize(fields[0]).s, " ", "")
		if word == "" {
			continue
		}
		switch {
		case len(fields) >= 3 && isFreq(fields[1]):
			fmt.Fprintf(out, "%s %s %s\n", word, fields[1], fields[2])
		case len(fields) == 2 && isFreq(fields[1]):
			fmt.Fprintf(out, "%s %s n\n", word, fields[1])
		case len(fields) >= 2 && !isDigits(fields[1]):
			fmt.Fprintf(out, "%s %s\n", word, fields[1])
		default:
			fmt.Fprintf(out, "%s\n", word)
		}
	}
}

// isFreq reports whether s is a positive frequency (cppjieba takes the log of it).
func isFreq(s string) bool { return isDigits(s) && strings.Trim(s, "0") != "" }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
