package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// demoCommand fills a running careerd with a generated organisation through
// the bulk endpoint.
func demoCommand(c *cli, args []string) error {
	fs := newFlagSet("demo")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	people := fs.Int("people", 2000, "people to register")
	departments := fs.Int("departments", 20, "departments")
	years := fs.Int("years", 15, "years of history up to today")
	seed := fs.Uint64("seed", 1, "random seed: the same seed (on the same day) gives the same organisation")
	chunk := fs.Int("chunk", 1000, "lines per request (1-10000)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *people < 1:
		return usagef("--people must be at least 1")
	case *departments < 1:
		return usagef("--departments must be at least 1")
	case *years < 1 || *years > 60:
		return usagef("--years must be between 1 and 60")
	case *chunk < 1 || *chunk > maxBulkLines:
		return usagef("--chunk must be between 1 and %d", maxBulkLines)
	}
	cfg := demoConfig{People: *people, Departments: *departments, Years: *years, Seed: *seed, Today: time.Now()}
	lines := generateDemo(cfg)
	if err := demoPreflight(c, ep, lines[0], cfg); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "demo: %s people in %d departments, %s commands over %d years\n",
		groupDigits(int64(*people)), *departments, groupDigits(int64(len(lines))), *years)

	var t tally
	ids := make([]string, len(lines)) // accomplishment ids by line, for the corrections
	prog := newProgress(c.stderr, nil, "demo", "lines", int64(len(lines)), 0)
	done := 0
	var batch [][]byte
	var idx []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, unseen, err := ep.bulkImport(c.ctx, batch)
		if err != nil {
			return err
		}
		if unseen {
			t.unseen++
		}
		for i, r := range results {
			t.add(idx[i]+1, r)
			ids[idx[i]] = r.AccomplishmentID
		}
		t.sent += len(batch)
		done += len(batch)
		batch, idx = batch[:0], idx[:0]
		prog.Set(int64(done))
		return nil
	}
	for i, l := range lines {
		if l.Ref >= 0 {
			if i > 0 && lines[i-1].Ref < 0 {
				// The corrections need the ids of everything before.
				if err := flush(); err != nil {
					return err
				}
			}
			if ids[l.Ref] == "" {
				t.skipped++
				done++
				continue
			}
			l.Input["accomplishmentId"] = ids[l.Ref]
		}
		body, err := json.Marshal(map[string]any{"op": l.Op, "input": l.Input})
		if err != nil {
			return err
		}
		batch, idx = append(batch, body), append(idx, i)
		if len(batch) >= *chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	prog.Finish()
	fmt.Fprintf(c.stdout, "demo: %s recorded, %s already recorded (duplicates), %s refused", groupDigits(int64(t.recorded)),
		groupDigits(int64(t.duplicates)), groupDigits(int64(len(t.refused))))
	if t.skipped > 0 {
		fmt.Fprintf(c.stdout, ", %s corrections skipped (their accomplishment was refused)", groupDigits(int64(t.skipped)))
	}
	fmt.Fprintln(c.stdout)
	for i, r := range t.refused {
		if i == 20 {
			fmt.Fprintf(c.stdout, "... and %d more\n", len(t.refused)-20)
			break
		}
		fmt.Fprintln(c.stdout, r.text) // as import prints it
	}
	if len(t.refused) > 0 {
		return errReported
	}
	return nil
}

// demoPreflight refuses to add a demo to a server that already holds
// another one (other seed or sizes) or other data under the demo's
// employee numbers: the first generated person must be unknown, or be
// this demo's. Which demo registered a person its idempotency key tells
// (demo-s1-p2000-d20-y15-1: the seed and the sizes), and careerd knows it:
// the first line sent again with this demo's key is answered as a
// duplicate when the person is this demo's made the same day, refused as
// the key's reuse when it is this demo's made another day (its dates, and
// so every line, differ), and refused ("id: is already taken") when it is
// not this demo's. Only the first goes on. None records anything: it is
// sent only for a person that exists.
func demoPreflight(c *cli, ep *endpoint, first demoLine, cfg demoConfig) error {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	id := first.Input["id"].(string)
	data, err := ep.graphql(ctx, `query($id: ID!) { person(id: $id) { name } }`, map[string]any{"id": id})
	var gerrs GraphQLErrors
	if errors.As(err, &gerrs) && gerrs.Code() == "NOT_FOUND" {
		return nil
	}
	if err != nil {
		return err
	}
	var res struct{ Person *struct{ Name string } }
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	if res.Person == nil {
		return nil // nobody yet
	}
	line, err := json.Marshal(map[string]any{"op": first.Op, "input": first.Input})
	if err != nil {
		return err
	}
	results, _, err := ep.bulkImport(ctx, [][]byte{line})
	if err != nil {
		return err
	}
	if len(results) != 1 {
		return fmt.Errorf("POST /v1/import answered %d lines for 1", len(results))
	}
	switch r := results[0]; {
	case r.OK:
		return nil // this demo again, the same day: its lines are answered by their keys
	case r.Field == "idempotencyKey":
		// This demo's key, another request: the same demo made on another
		// day (its dates run up to the day it is made), whose every line
		// careerd would refuse as its key's reuse.
		return fmt.Errorf("%s was registered by this demo (--seed %d --people %d --departments %d --years %d) on another day: "+
			"a demo's dates run up to the day it is made, so today's lines differ from that day's and careerd would refuse each of them; "+
			"the demo on this server stays as it was (run the demo on an empty careerd for today's)",
			id, cfg.Seed, cfg.People, cfg.Departments, cfg.Years)
	case r.Field == "id":
		return fmt.Errorf("%s is already %s, registered by another demo (other seed or sizes) or other data, not by this one "+
			"(--seed %d --people %d --departments %d --years %d): run the demo on an empty careerd, or with the seed and sizes used before",
			id, res.Person.Name, cfg.Seed, cfg.People, cfg.Departments, cfg.Years)
	default:
		return fmt.Errorf("%s is already %s, and the demo could not tell whether this demo registered it: %s", id, res.Person.Name, r.refusal())
	}
}
