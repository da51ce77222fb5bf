package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAnswersAreCompressedForClientsThatAskForIt: an answer of 1 KB and more
// to a client that accepts gzip comes gzipped, and decompresses to the
// answer; a small one, or one to a client that does not ask, comes as it
// is. careerctl and browsers ask, and decompress unseen.
func TestAnswersAreCompressedForClientsThatAskForIt(t *testing.T) {
	m := start(t, baseConfig(t))
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}} // to see the encoding
	ask := func(t *testing.T, query string, accept string) (encoding string, body []byte) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"query": query})
		req, _ := http.NewRequest(http.MethodPost, "http://"+m.Addr()+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+m.DevToken())
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		res, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r io.Reader = res.Body
		if enc := res.Header.Get("Content-Encoding"); enc == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		body, err = io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return res.Header.Get("Content-Encoding"), body
	}
	// The catalogue document is about 8 KB.
	enc, body := ask(t, `{ catalogue { document } }`, "gzip")
	var doc struct {
		Data struct{ Catalogue struct{ Document string } }
	}
	if err := json.Unmarshal(body, &doc); err != nil || enc != "gzip" || !strings.Contains(doc.Data.Catalogue.Document, "SYSTEM_OPERATION") {
		t.Errorf("a large answer to a client that accepts gzip: encoding %q, %v, %.200s", enc, err, body)
	}
	if enc, body := ask(t, `{ catalogue { document } }`, ""); enc != "" || !bytes.Contains(body, []byte("SYSTEM_OPERATION")) {
		t.Errorf("a large answer to a client that does not ask: encoding %q", enc)
	}
	// gzip only, as documented, whatever else a browser accepts.
	if enc, _ := ask(t, `{ catalogue { document } }`, "gzip, deflate, br, zstd"); enc != "gzip" {
		t.Errorf("a browser's Accept-Encoding: encoding %q, want gzip", enc)
	}
	if enc, body := ask(t, `{ catalogue { id version } }`, "gzip"); enc != "" || !bytes.Contains(body, []byte(`"version"`)) {
		t.Errorf("a small answer: encoding %q, %s", enc, body)
	}
}
