package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUse is a reading of the CPU time the machine and this process have
// used, so that a measurement can say where the cores went: this process
// (writers, projector, an embedded NATS server) or the rest of the machine
// (PostgreSQL when it runs locally, a NATS server of its own, the kernel).
type cpuUse struct {
	at      time.Time
	cores   int           // the machine's cores (cpuN lines of /proc/stat); 0 if unreadable
	machine time.Duration // busy time of every core, steal excluded
	steal   time.Duration // time the hypervisor gave to other guests
	self    time.Duration // user + system time of this process
}

// userHZ is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

func readCPU() cpuUse {
	u := cpuUse{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	file, err := os.Open("/proc/stat")
	if err != nil {
		return u
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "cpu") {
			continue
		}
		if fields[0] != "cpu" {
			u.cores++
			continue
		}
		// cpu user nice system idle iowait irq softirq steal guest...
		// (guest time is already in user and nice).
		for i, v := range fields[1:min(len(fields), 9)] {
			n, _ := strconv.ParseInt(v, 10, 64)
			t := time.Duration(n) * (time.Second / userHZ)
			switch i {
			case 3, 4: // idle, iowait
			case 7:
				u.steal += t
			default:
				u.machine += t
			}
		}
	}
	return u
}

// cpuBetween describes the CPU used from start to end per event; rest
// names what the rest of the machine was.
func cpuBetween(start, end cpuUse, events int, rest string) string {
	wall := end.at.Sub(start.at)
	if start.cores == 0 || wall <= 0 || events == 0 {
		return ""
	}
	cores := float64(start.cores)
	machine, self := end.machine-start.machine, end.self-start.self
	others := max(machine-self, 0)
	s := fmt.Sprintf("the machine's %d cores were %.0f%% busy: this process %.2f cores (%s of CPU per event), the rest of the machine (%s) %.2f cores (%s per event)",
		start.cores, 100*machine.Seconds()/(wall.Seconds()*cores), self.Seconds()/wall.Seconds(), fmtDur(self/time.Duration(events)),
		rest, others.Seconds()/wall.Seconds(), fmtDur(others/time.Duration(events)))
	if steal := end.steal - start.steal; steal > wall/100 {
		s += fmt.Sprintf("; the hypervisor took %.0f%% of the cores for other guests", 100*steal.Seconds()/(wall.Seconds()*cores))
	}
	return s
}

// gcUse is a reading of the collector's work so far (runtime/metrics).
type gcUse struct {
	cycles       uint64
	mark, assist float64 // CPU seconds marking, all of it and the part done by allocating goroutines
	live         uint64  // the live heap after the last cycle
}

var gcMetrics = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds", "/cpu/classes/gc/mark/idle:cpu-seconds", "/gc/heap/live:bytes"}

func readGC() gcUse {
	s := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	f := func(i int) float64 {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64()
		}
		return 0
	}
	u := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return gcUse{cycles: u(0), assist: f(1), mark: f(1) + f(2) + f(3), live: u(4)}
}

// gcBetween says what the collector did between two readings.
func gcBetween(a, b gcUse) string {
	n := b.cycles - a.cycles
	if n == 0 {
		return fmt.Sprintf("no collector cycle (live heap %d MB)", a.live>>20)
	}
	return fmt.Sprintf("%d collector cycle(s): %.2f s of CPU marking, %.2f s of it assists by the writers and the projector; live heap %d MB before, %d MB after the last",
		n, b.mark-a.mark, b.assist-a.assist, a.live>>20, b.live>>20)
}
