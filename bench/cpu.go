package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUse is a reading of the CPU time the machine and this process have
// used, so that a measurement can say where its cores went: this process
// (writers, embedded NATS server, projector) or the rest of the machine
// (PostgreSQL when it runs locally, and a NATS server of its own).
type cpuUse struct {
	at      time.Time
	machine time.Duration // busy time of every core (/proc/stat), 0 if unreadable
	self    time.Duration // user + system time of this process
}

func readCPU() cpuUse {
	u := cpuUse{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if f, err := os.Open("/proc/stat"); err == nil {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			// cpu user nice system idle iowait irq softirq steal ...
			f := strings.Fields(sc.Text())
			var busy int64
			for i, v := range f[1:min(len(f), 9)] {
				n, _ := strconv.ParseInt(v, 10, 64)
				if i != 3 && i != 4 { // not idle, not iowait
					busy += n
				}
			}
			u.machine = time.Duration(busy) * time.Second / 100 // USER_HZ
		}
		f.Close()
	}
	return u
}

// cpuSince describes the CPU used from start to now per event.
func cpuSince(start cpuUse, events int) string {
	end := readCPU()
	wall := end.at.Sub(start.at)
	if start.machine == 0 || wall <= 0 || events == 0 {
		return ""
	}
	cores := float64(runtime.NumCPU())
	machine, self := end.machine-start.machine, end.self-start.self
	rest := max(machine-self, 0)
	return fmt.Sprintf("the machine's %d cores were %.0f%% busy: this process %.2f cores (%s of CPU per event), the rest of the machine (PostgreSQL, and a NATS server of its own) %.2f cores (%s per event)",
		int(cores), 100*machine.Seconds()/(wall.Seconds()*cores), self.Seconds()/wall.Seconds(), fmtDur(self/time.Duration(events)),
		rest.Seconds()/wall.Seconds(), fmtDur(rest/time.Duration(events)))
}
