package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"
)

// selfSHA256 is the SHA-256 of the running agent executable, read once per process (an
// upgrade restarts the process). Empty when the OS does not say where the executable is.
var selfSHA256 = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
})
