package extract_test

import (
	"os/exec"
	"strconv"
)

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput() // #nosec G204 -- test helper
	return string(out), err
}

func itoa(i int) string { return strconv.Itoa(i) }
