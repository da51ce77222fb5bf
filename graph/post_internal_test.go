package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
)

// fixedExec answers every operation with resp, or refuses it with refuse.
type fixedExec struct {
	refuse gqlerror.List
	resp   *graphql.Response
}

func (x fixedExec) CreateOperationContext(_ context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	return &graphql.OperationContext{RawQuery: p.Query}, x.refuse
}

func (x fixedExec) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	return func(context.Context) *graphql.Response { return x.resp }, ctx
}

func (x fixedExec) DispatchError(_ context.Context, list gqlerror.List) *graphql.Response {
	return &graphql.Response{Errors: list}
}

// TestPostJSONAnswersAsGqlgensPOST sends the same requests through
// gqlgen's POST transport and postJSON, against the same answers, and
// compares status, headers and body byte for byte.
func TestPostJSONAnswersAsGqlgensPOST(t *testing.T) {
	protocol := gqlerror.Errorf("Cannot query field \"x\" on type \"Query\".")
	errcode.Set(protocol, errcode.ValidationFailed)
	user := gqlerror.Errorf("id: must not be empty")
	user.Extensions = map[string]any{"code": "BAD_USER_INPUT", "field": "id"}
	yes := true
	answers := map[string]fixedExec{
		"plain data":            {resp: &graphql.Response{Data: json.RawMessage(`{"person":{"id":"E1","name":"Sato Hanako","level":3}}`)}},
		"data with <, > and &":  {resp: &graphql.Response{Data: json.RawMessage(`{"title":"<b>R&D</b> > ops"}`)}},
		"line separators":       {resp: &graphql.Response{Data: json.RawMessage("{\"t\":\"a\u2028b\u2029c\"}")}},
		"a stray 0xE2":          {resp: &graphql.Response{Data: json.RawMessage("{\"t\":\"\u2020\u2027\u202a\"}")}},
		"escapes":               {resp: &graphql.Response{Data: json.RawMessage(`{"t":"a\"b\\","u":"\\\"","v":"\u00e9\n"}`)}},
		"space between tokens":  {resp: &graphql.Response{Data: json.RawMessage(`{"a": 1, "b" :[1, 2]}`)}},
		"indented":              {resp: &graphql.Response{Data: json.RawMessage("{\n\t\"a\": 1\r\n}")}},
		"Japanese":              {resp: &graphql.Response{Data: json.RawMessage(`{"name":"佐藤 花子","dept":"ネットワーク運用"}`)}},
		"null data":             {resp: &graphql.Response{Data: json.RawMessage(`null`)}},
		"no data":               {resp: &graphql.Response{}},
		"data and errors":       {resp: &graphql.Response{Data: json.RawMessage(`{"person":null}`), Errors: gqlerror.List{user}}},
		"data and extensions":   {resp: &graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"requestId": "r1"}}},
		"incremental":           {resp: &graphql.Response{Data: json.RawMessage(`{"a":1}`), Label: "l", Path: ast.Path{ast.PathName("a")}, HasNext: &yes}},
		"nil answer":            {},
		"refused, protocol":     {refuse: gqlerror.List{protocol}},
		"refused, user's input": {refuse: gqlerror.List{user}},
	}
	bodies := []string{`{"query":"{ person(id: \"E1\") { id } }"}`, `{"query":`, `{"query":"{a}","variables":{"n":1.5e3}}`, ``}
	accepts := []string{"", "application/json", contentGraphQLResponse, "*/*", "application/*", "text/html",
		"text/html, application/graphql-response+json;q=0.9, application/json", "application/json;;", "invalid, application/*"}
	for name, exec := range answers {
		for _, body := range bodies {
			for _, accept := range accepts {
				do := func(tr graphql.Transport) *httptest.ResponseRecorder {
					r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					if accept != "" {
						r.Header.Set("Accept", accept)
					}
					w := httptest.NewRecorder()
					tr.Do(w, r, exec)
					return w
				}
				want, got := do(transport.POST{}), do(postJSON{})
				if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
					t.Errorf("%s, body %q, Accept %q:\n got %d %v %s\nwant %d %v %s", name, body, accept,
						got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
				}
			}
		}
	}
}

// TestUntouched checks the fast path's test against json.Marshal itself:
// data it calls untouched is what json.Marshal writes back unchanged.
func TestUntouched(t *testing.T) {
	for _, c := range []struct {
		data string
		want bool
	}{
		{`{"a":"b c"}`, true},
		{`{"a": "b"}`, false},
		{`{"a":"b"} `, false},
		{`{"a":"<"}`, false},
		{`{"a":"\u003c"}`, true},
		{`{"a":"\"<"}`, false},
		{`{"a":"\\"," ":1}`, true},
		{`{"a":"\\" ,"b":1}`, false},
		{"{\"a\":\"\u2028\"}", false},
		{"{\"a\":\"\u2029\"}", false},
		{`{"a":"say \"hi\" to me"}`, true},
		{"{\"a\":\"\u2030\"}", true},
		{`{"a":"unterminated}`, false},
		{`[1,2]`, true},
	} {
		if got := untouched([]byte(c.data)); got != c.want {
			t.Errorf("untouched(%s) = %v, want %v", c.data, got, c.want)
		}
		if c.want {
			b, err := json.Marshal(json.RawMessage(c.data))
			if err != nil || string(b) != c.data {
				t.Errorf("json.Marshal changes %s to %s (%v), yet it is untouched", c.data, b, err)
			}
		}
	}
}

// FuzzWriteResponse compares writeResponse with json.Marshal for any
// valid JSON as the data, and for text inside data encoded as gqlgen
// encodes it (no HTML escaping).
func FuzzWriteResponse(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `"<&>"`, "\u2028", `{"a": [1, "b c"]}`, `"\\\""`, "\xe2\x80", "佐藤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var data [][]byte
		if json.Valid([]byte(s)) {
			data = append(data, []byte(s))
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{"t": s, "list": []string{s, "x"}}); err != nil {
			t.Fatal(err)
		}
		data = append(data, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		for _, d := range data {
			resp := &graphql.Response{Data: d}
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			writeResponse(&got, resp)
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("data %q:\n got %s\nwant %s", d, got.Bytes(), want)
			}
		}
	})
}

// BenchmarkWriteResponse writes a person's standing (three fields, their
// criteria and evidence, about 2 KB) as postJSON does and as
// transport.POST does.
func BenchmarkWriteResponse(b *testing.B) {
	var fields []string
	for _, f := range []string{"SYSTEM_OPERATION", "NETWORK_OPERATION", "SERVICE_DESK"} {
		var criteria []string
		for i := range 6 {
			criteria = append(criteria, `{"criterion":"engagements of size M or more as a leader (`+string(rune('a'+i))+`)","met":true,"evidence":["E100234.A7","E100234.A9"],"missing":null}`)
		}
		fields = append(fields, `{"field":"`+f+`","level":3,"attainedOn":"2024-04-01","criteria":[`+strings.Join(criteria, ",")+`]}`)
	}
	resp := &graphql.Response{Data: json.RawMessage(`{"person":{"standing":[` + strings.Join(fields, ",") + `]}}`)}
	b.Run("postJSON", func(b *testing.B) {
		for b.Loop() {
			writeResponse(io.Discard, resp)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			out, _ := json.Marshal(resp)
			io.Discard.Write(out) //nolint:errcheck
		}
	})
}

// TestScalarsWriteValidJSON guards what postJSON assumes of the data it
// writes as it stands: every scalar and enum this schema has writes valid
// JSON (transport.POST's json.Marshal would fail on anything else; the
// schema has no Float, whose marshaller writes NaN and Inf).
func TestScalarsWriteValidJSON(t *testing.T) {
	var ms []graphql.Marshaler
	for _, d := range []domain.Date{{}, domain.MustDate("2012-04-01"), domain.MustDate("9999-12-31")} {
		ms = append(ms, model.MarshalDate(d))
	}
	for _, at := range []time.Time{{}, time.Date(2026, 11, 27, 21, 0, 0, 123456000, time.FixedZone("JST", 9*3600))} {
		ms = append(ms, model.MarshalDateTime(at))
	}
	for _, y := range []int64{0, -1, math.MinInt64, math.MaxInt64} {
		ms = append(ms, model.MarshalYen(y))
	}
	for _, i := range []int{0, -7, math.MaxInt32} {
		ms = append(ms, model.MarshalInt(i))
	}
	var enums []graphql.Marshaler
	for _, all := range [][]graphql.Marshaler{marshalers(model.AllAccomplishmentKind), marshalers(model.AllComplexityCriterion),
		marshalers(model.AllDevelopmentKind), marshalers(model.AllEngagementRole), marshalers(model.AllInterval),
		marshalers(model.AllOutcome), marshalers(model.AllProficiency), marshalers(model.AllSpecialtyField),
		marshalers(model.AllSuccessionKind), marshalers(model.AllTheme)} {
		enums = append(enums, all...)
	}
	if len(enums) < 10 {
		t.Fatalf("%d enum values", len(enums))
	}
	for _, m := range append(ms, enums...) {
		var b bytes.Buffer
		m.MarshalGQL(&b)
		if !json.Valid(b.Bytes()) {
			t.Errorf("%T writes %q: not valid JSON", m, b.Bytes())
		}
	}
}

// marshalers are the values of an enum as graphql.Marshalers.
func marshalers[E graphql.Marshaler](all []E) []graphql.Marshaler {
	out := make([]graphql.Marshaler, len(all))
	for i, e := range all {
		out[i] = e
	}
	return out
}
