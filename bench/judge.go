package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

// judge is scenario 1: the full timeline and standing (Catalogue.Judge) of a
// person with 50 pieces of evidence, and a re-evaluation of many people.
func (b *bench) judge(ctx context.Context) {
	progress("judge: generating careers of 50 pieces of evidence")
	g := newGen(1, b.cat)
	careers := make([]domain.Evidence, 1000)
	for i := range careers {
		careers[i] = g.career(50)
	}
	asOf := domain.MustDate("2026-11-26")

	progress("judge: testing.Benchmark of Catalogue.Judge (timeline + standing)")
	res := testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		i := 0
		for tb.Loop() {
			b.cat.Judge(careers[i%len(careers)], asOf)
			i++
		}
	})
	perOp := time.Duration(res.NsPerOp())
	b.add(row{
		Scenario: "1a Judge: timeline + standing, 50 pieces of evidence",
		Measured: fmt.Sprintf("%s/op, %d allocs/op, %d B/op", fmtDur(perOp), res.AllocsPerOp(), res.AllocedBytesPerOp()),
		Baseline: "-", Ratio: "-", Goal: "< 100 µs", Verdict: verdict(perOp < 100*time.Microsecond),
		Note: fmt.Sprintf("testing.Benchmark, %d iterations over 1,000 generated careers (20 engagements, 10 succession items, 5 developments, 15 assessments each).", res.N),
	})

	n := b.cfg.judgePeople
	workers := runtime.GOMAXPROCS(0)
	progress("judge: re-evaluating %d people on %d goroutines", n, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				b.cat.Judge(careers[i%int64(len(careers))], asOf)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.add(row{
		Scenario: fmt.Sprintf("1b Re-evaluate %d people (50 pieces each)", n),
		Measured: fmtDur(took) + fmt.Sprintf(" on %d cores", workers),
		Baseline: "-", Ratio: "-", Goal: "seconds (< 10 s)", Verdict: verdict(took < 10*time.Second),
		Note: fmt.Sprintf("Actually run (not extrapolated), Judge only (no I/O); single-core extrapolation from 1a: %s.",
			fmtDur(perOp*time.Duration(n))),
	})
}
