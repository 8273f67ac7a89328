// Package measure holds what Ward's load tests measure the same way: a
// process's CPU time, a thread's CPU time, and the bare P-256 loops the
// servers' costs are compared with.
package measure

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcCPU returns the user+system CPU time process pid has used (from
// /proc/PID/stat), or 0 when it cannot be read.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// ThreadCPU returns the CPU time (user+system) the calling OS thread has
// used (getrusage RUSAGE_THREAD, Linux).
func ThreadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BareVerify is the CPU time of one P-256 ECDSA verification (SHA-256
// digest), single-threaded, averaged over d of wall time.
func BareVerify(d time.Duration) time.Duration { return bare(d, false) }

// BareVerifySign is the CPU time of one P-256 verification plus one
// signature, averaged over d of wall time.
func BareVerifySign(d time.Duration) time.Duration { return bare(d, true) }

// bare times the loop in CPU time of this thread, not wall time: the
// servers' costs are read as CPU time from /proc, and wall time would also
// count the moments other processes on a shared machine hold the core.
func bare(d time.Duration, sign bool) time.Duration {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, digest[:])
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := 0
	start, cpu0 := time.Now(), ThreadCPU()
	for time.Since(start) < d {
		if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
			panic("verify")
		}
		if sign {
			if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
				panic(err)
			}
		}
		n++
	}
	return (ThreadCPU() - cpu0) / time.Duration(n)
}
