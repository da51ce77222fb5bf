package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataDirLockName is the file in --data-dir that an instance running the
// embedded server holds an exclusive lock on while the server runs.
const dataDirLockName = "careerd.lock"

// lockDataDir takes --data-dir for this instance alone: an exclusive,
// non-blocking flock on dir/careerd.lock, held until the file returned is
// closed. Two embedded servers on one directory each take the other's
// writes for their own and overwrite them, so a directory another
// instance holds is refused. The lock belongs to the open file, so it goes
// with the process however it ends (a kill -9 included): no stale lock is
// ever left to remove. The file holds the process id of its holder, to
// name in the refusal.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("--data-dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, dataDirLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--data-dir %s: cannot open its lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("--data-dir %s is in use by another careerd%s, which holds %s: "+
				"each instance needs a data directory of its own (two embedded servers on one lose each other's writes); "+
				"instances that share an event log use a NATS server through --nats-url", dir, holder, path)
		}
		return nil, fmt.Errorf("--data-dir %s: cannot lock %s: %w", dir, path, err)
	}
	// The holder's process id, for the refusal of the next one; the lock
	// does not depend on it.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) //nolint:errcheck // informative only
	}
	return f, nil
}
