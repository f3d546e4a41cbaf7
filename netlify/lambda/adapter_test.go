package lambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/netlify/lambda"
)

// seen is what the echo handler received, as it reports it.
type seen struct {
	Method        string
	Path          string
	Query         map[string][]string
	Header        map[string][]string
	Host          string
	ContentLength int64
	RemoteAddr    string
	Scheme        string
	Body          []byte // JSON carries it base64-encoded, so any bytes survive
	Marked        bool   // the context the adapter was given reached the handler
}

type mark struct{}

// echo answers 200 with what it received, as JSON. It is a stand-in for the
// sign handler: these tests are about the adapter.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(seen{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Host: r.Host,
		ContentLength: r.ContentLength, RemoteAddr: r.RemoteAddr, Scheme: r.URL.Scheme, Body: body,
		Marked: r.Context().Value(mark{}) == true,
	})
})

var paths = map[string]string{"/.netlify/functions/sign": "/api/sign", "/.netlify/functions/sign/confirm": "/api/confirm"}

// through invokes the adapter around echo with ev and returns what the
// handler saw.
func through(t *testing.T, ev events.APIGatewayProxyRequest) seen {
	t.Helper()
	ctx := context.WithValue(context.Background(), mark{}, true)
	resp, err := lambda.Adapter{Handler: echo, Paths: paths}.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	var s seen
	if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
		t.Fatalf("echo's answer: %v\n%s", err, resp.Body)
	}
	if !s.Marked {
		t.Error("the handler's request does not carry the invocation's context")
	}
	return s
}

func post(body string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign", Body: body}
}

func TestRequestBody(t *testing.T) {
	binary := []byte{'a', 0, 0xff, 0xfe, '\n', 'z'}
	tests := []struct {
		name string
		ev   events.APIGatewayProxyRequest
		want []byte
	}{
		{"plain", post("first_name=Jane&body=%C3%A9"), []byte("first_name=Jane&body=%C3%A9")},
		{"plain text that happens to be base64", post("aGVsbG8="), []byte("aGVsbG8=")},
		{"base64", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign",
			Body: base64.StdEncoding.EncodeToString([]byte("first_name=Jos%C3%A9")), IsBase64Encoded: true}, []byte("first_name=Jos%C3%A9")},
		{"base64 binary", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign",
			Body: base64.StdEncoding.EncodeToString(binary), IsBase64Encoded: true}, binary},
		{"empty", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign"}, []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := through(t, tt.ev)
			if string(s.Body) != string(tt.want) {
				t.Errorf("body %q, want %q", s.Body, tt.want)
			}
			if s.ContentLength != int64(len(tt.want)) {
				t.Errorf("ContentLength %d, want %d (the decoded length)", s.ContentLength, len(tt.want))
			}
		})
	}
}

func TestInvalidBase64IsAPlain400(t *testing.T) {
	for _, body := range []string{"%%%not base64", "aGVsbG8", "aGVs bG8="} {
		t.Run(body, func(t *testing.T) {
			called := false
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
			ev := post(body)
			ev.IsBase64Encoded = true
			resp, err := lambda.Adapter{Handler: h, Paths: paths}.Invoke(context.Background(), ev)
			if err != nil {
				t.Fatalf("Invoke returned an error (Lambda would answer 502): %v", err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if ct := header(resp, "Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q, want plain text", ct)
			}
			checkSecurityHeaders(t, resp)
			if !strings.HasPrefix(resp.Body, "The request could not be read: ") || !strings.Contains(resp.Body, "not valid base64") {
				t.Errorf("body %q does not say the request was unreadable", resp.Body)
			}
			if resp.IsBase64Encoded {
				t.Error("the plain message is base64-encoded")
			}
			if called {
				t.Error("the handler was called with an unreadable body")
			}
		})
	}
	if _, err := lambda.Request(context.Background(), events.APIGatewayProxyRequest{Body: "%%", IsBase64Encoded: true}, nil); err == nil {
		t.Error("Request accepted invalid base64")
	}
}

func TestRequestPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/.netlify/functions/sign", "/api/sign"},
		{"/.netlify/functions/sign/", "/api/sign/"},
		{"/.netlify/functions/sign/preview", "/api/sign/preview"},
		// The longer mapping wins over the shorter one it starts with.
		{"/.netlify/functions/sign/confirm", "/api/confirm"},
		{"/.netlify/functions/sign/confirm/tok3n", "/api/confirm/tok3n"},
		{"/.netlify/functions/sign/confirmed", "/api/sign/confirmed"},
		{"/.netlify/functions/signature", "/.netlify/functions/signature"}, // a prefix, not a sub-path
		{"/.netlify/functions/other", "/.netlify/functions/other"},
		{"/api/sign", "/api/sign"},
		{"/prefix/.netlify/functions/sign", "/prefix/.netlify/functions/sign"},
		{"", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if s := through(t, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: tt.path}); s.Path != tt.want {
				t.Errorf("path %q became %q, want %q", tt.path, s.Path, tt.want)
			}
		})
	}
	// Without a mapping, paths are left alone.
	req, err := lambda.Request(context.Background(), events.APIGatewayProxyRequest{Path: "/.netlify/functions/sign"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Path != "/.netlify/functions/sign" {
		t.Errorf("no mapping: path %q", req.URL.Path)
	}
}

func TestRequestQuery(t *testing.T) {
	tests := []struct {
		name   string
		single map[string]string
		multi  map[string][]string
		want   map[string][]string
	}{
		{"none", nil, nil, map[string][]string{}},
		{"single only", map[string]string{"letter": "family-separation", "q": "a b&c=d"}, nil,
			map[string][]string{"letter": {"family-separation"}, "q": {"a b&c=d"}}},
		{"multi only", nil, map[string][]string{"t": {"1", "2"}},
			map[string][]string{"t": {"1", "2"}}},
		// API Gateway puts the last value of a repeated key in the single
		// map and all of them in the multi map: multi wins, once each.
		{"both, same key", map[string]string{"t": "2"}, map[string][]string{"t": {"1", "2"}},
			map[string][]string{"t": {"1", "2"}}},
		{"both, other keys", map[string]string{"a": "x"}, map[string][]string{"t": {"1"}},
			map[string][]string{"a": {"x"}, "t": {"1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := through(t, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/api/sign",
				QueryStringParameters: tt.single, MultiValueQueryStringParameters: tt.multi})
			if !reflect.DeepEqual(s.Query, tt.want) {
				t.Errorf("query %v, want %v", s.Query, tt.want)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	tests := []struct {
		name   string
		single map[string]string
		multi  map[string][]string
		want   map[string][]string // headers that must be exactly so
	}{
		{"single only", map[string]string{"content-type": "application/json", "x-custom": "1"}, nil,
			map[string][]string{"Content-Type": {"application/json"}, "X-Custom": {"1"}}},
		{"multi only", nil, map[string][]string{"accept": {"text/html", "application/json"}, "cookie": {"a=1"}},
			map[string][]string{"Accept": {"text/html", "application/json"}, "Cookie": {"a=1"}}},
		{"both, same key", map[string]string{"accept": "application/json"}, map[string][]string{"Accept": {"text/html", "application/json"}},
			map[string][]string{"Accept": {"text/html", "application/json"}}},
		{"both, other keys", map[string]string{"content-type": "text/plain"}, map[string][]string{"accept": {"text/html"}},
			map[string][]string{"Content-Type": {"text/plain"}, "Accept": {"text/html"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := through(t, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign", Headers: tt.single, MultiValueHeaders: tt.multi})
			for k, want := range tt.want {
				if got := s.Header[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestRequestHostMethodScheme(t *testing.T) {
	tests := []struct {
		name                             string
		method                           string
		headers                          map[string]string
		multi                            map[string][]string
		wantMethod, wantHost, wantScheme string
	}{
		{"defaults", "", nil, nil, "GET", "", ""},
		{"post over https", "POST", map[string]string{"host": "campaign.netlify.app", "x-forwarded-proto": "https"}, nil,
			"POST", "campaign.netlify.app", "https"},
		{"https in capitals", "POST", map[string]string{"X-Forwarded-Proto": "HTTPS"}, nil, "POST", "", "https"},
		{"http", "PUT", map[string]string{"host": "localhost:8888", "x-forwarded-proto": "http"}, nil, "PUT", "localhost:8888", ""},
		{"host in the multi map", "OPTIONS", nil, map[string][]string{"Host": {"example.org"}, "X-Forwarded-Proto": {"https"}},
			"OPTIONS", "example.org", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := through(t, events.APIGatewayProxyRequest{HTTPMethod: tt.method, Path: "/api/sign", Headers: tt.headers, MultiValueHeaders: tt.multi})
			if s.Method != tt.wantMethod || s.Host != tt.wantHost || s.Scheme != tt.wantScheme {
				t.Errorf("method %q host %q scheme %q, want %q %q %q", s.Method, s.Host, s.Scheme, tt.wantMethod, tt.wantHost, tt.wantScheme)
			}
		})
	}
}

func TestRequestClientIP(t *testing.T) {
	tests := []struct {
		name     string
		headers  map[string]string
		multi    map[string][]string
		sourceIP string
		want     string
	}{
		{"Netlify's header first", map[string]string{"x-nf-client-connection-ip": "203.0.113.7"}, nil, "10.1.2.3", "203.0.113.7"},
		{"header in the multi map", nil, map[string][]string{"X-Nf-Client-Connection-Ip": {"203.0.113.8"}}, "10.1.2.3", "203.0.113.8"},
		{"header trimmed", map[string]string{"x-nf-client-connection-ip": " 203.0.113.9 "}, nil, "", "203.0.113.9"},
		{"blank header falls back", map[string]string{"x-nf-client-connection-ip": "  "}, nil, "10.1.2.3", "10.1.2.3"},
		{"source IP without the header", map[string]string{"x-forwarded-for": "6.6.6.6"}, nil, "10.1.2.3", "10.1.2.3"},
		// Netlify's header is one address: a list or junk is not believed.
		{"a list in the header", map[string]string{"x-nf-client-connection-ip": "6.6.6.6, 203.0.113.7"}, nil, "10.1.2.3", "10.1.2.3"},
		{"junk in the header", map[string]string{"x-nf-client-connection-ip": "unknown"}, nil, "10.1.2.3", "10.1.2.3"},
		{"two header lines", nil, map[string][]string{"X-Nf-Client-Connection-Ip": {"6.6.6.6", "203.0.113.7"}}, "10.1.2.3", "10.1.2.3"},
		// Unknown: no address at all, rather than one every such request shares.
		{"neither", map[string]string{"x-forwarded-for": "6.6.6.6"}, nil, "", ""},
		{"junk in both", map[string]string{"x-nf-client-connection-ip": "0.0.0.0.0"}, nil, "somewhere", ""},
		{"IPv6 header", map[string]string{"x-nf-client-connection-ip": "2001:db8::7"}, nil, "10.1.2.3", "2001:db8::7"},
		{"IPv6 source IP", nil, nil, "2001:db8::8", "2001:db8::8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/sign", Headers: tt.headers, MultiValueHeaders: tt.multi}
			ev.RequestContext.Identity.SourceIP = tt.sourceIP
			s := through(t, ev)
			if tt.want == "" {
				if s.RemoteAddr != "" {
					t.Errorf("RemoteAddr %q, want none", s.RemoteAddr)
				}
				return
			}
			host, port, err := net.SplitHostPort(s.RemoteAddr)
			if err != nil {
				t.Fatalf("RemoteAddr %q does not split: %v", s.RemoteAddr, err)
			}
			if host != tt.want || port != "0" {
				t.Errorf("RemoteAddr %q: host %q, want %q", s.RemoteAddr, host, tt.want)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	nonUTF8 := []byte{0x89, 'P', 'N', 'G', 0, 0xff}
	tests := []struct {
		name       string
		status     int // 0: the handler never calls WriteHeader
		header     map[string][]string
		body       []byte
		wantStatus int
		wantBody   string
		wantBase64 bool
	}{
		{"redirect with two cookies", 303, map[string][]string{"Location": {"/thanks/"}, "Set-Cookie": {"a=1", "b=2"}}, nil, 303, "", false},
		{"implicit 200", 0, map[string][]string{"Content-Type": {"text/plain"}}, []byte("ok"), 200, "ok", false},
		{"UTF-8 text", 422, map[string][]string{"Content-Type": {"text/html; charset=utf-8"}}, []byte("Jos\u00e9 N\u00fa\u00f1ez \u2014 \U0001F4EC"), 422,
			"Jos\u00e9 N\u00fa\u00f1ez \u2014 \U0001F4EC", false},
		{"not UTF-8", 200, map[string][]string{"Content-Type": {"image/png"}}, nonUTF8, 200, base64.StdEncoding.EncodeToString(nonUTF8), true},
		{"truncated UTF-8", 500, nil, []byte("caf\xc3"), 500, base64.StdEncoding.EncodeToString([]byte("caf\xc3")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tt.header {
					for _, v := range vs {
						w.Header().Add(k, v)
					}
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				w.Write(tt.body)
			})
			resp, err := lambda.Adapter{Handler: h}.Invoke(context.Background(), post(""))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for k, want := range tt.header {
				if got := resp.MultiValueHeaders[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if resp.Body != tt.wantBody || resp.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("body %q (base64 %v), want %q (base64 %v)", resp.Body, resp.IsBase64Encoded, tt.wantBody, tt.wantBase64)
			}
			if resp.IsBase64Encoded {
				if raw, err := base64.StdEncoding.DecodeString(resp.Body); err != nil || string(raw) != string(tt.body) {
					t.Errorf("the base64 body decodes to %q (%v), want %q", raw, err, tt.body)
				}
			}
		})
	}
}

// The response's headers are a copy: changing the recorded ones afterwards
// does not change what was returned.
func TestResponseCopiesHeaders(t *testing.T) {
	h := http.Header{"Set-Cookie": {"a=1", "b=2"}}
	resp := lambda.Response(201, h, []byte("x"))
	h["Set-Cookie"][0] = "changed"
	h.Add("Set-Cookie", "c=3")
	if got := resp.MultiValueHeaders["Set-Cookie"]; !reflect.DeepEqual(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie %q, want the values at the time of the response", got)
	}
	if resp.StatusCode != 201 || resp.Body != "x" || resp.IsBase64Encoded {
		t.Errorf("response %+v", resp)
	}
}

func header(r events.APIGatewayProxyResponse, name string) string {
	if v := r.MultiValueHeaders[name]; len(v) > 0 {
		return v[0]
	}
	return r.Headers[name]
}

// checkSecurityHeaders fails the test unless r carries the headers every
// answer of ours does.
func checkSecurityHeaders(t *testing.T, r events.APIGatewayProxyResponse) {
	t.Helper()
	for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security", "Permissions-Policy"} {
		if header(r, name) == "" {
			t.Errorf("no %s: %v %v", name, r.Headers, r.MultiValueHeaders)
		}
	}
	if csp := header(r, "Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// A handler's answer carries the security headers even when the handler
// set none (Netlify adds none to a function's answers); a handler's own
// choice stands.
func TestAnswersCarrySecurityHeaders(t *testing.T) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	resp, err := lambda.Adapter{Handler: bare}.Invoke(context.Background(), post(""))
	if err != nil {
		t.Fatal(err)
	}
	checkSecurityHeaders(t, resp)
	if header(resp, "Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", header(resp, "Cache-Control"))
	}
	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'")
		w.Header().Set("Cache-Control", "public, max-age=60")
	})
	resp, err = lambda.Adapter{Handler: own}.Invoke(context.Background(), post(""))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.MultiValueHeaders["Content-Security-Policy"]; !reflect.DeepEqual(got, []string{"default-src 'none'; style-src 'self'"}) {
		t.Errorf("Content-Security-Policy %q, want the handler's", got)
	}
	if got := resp.MultiValueHeaders["Cache-Control"]; !reflect.DeepEqual(got, []string{"public, max-age=60"}) {
		t.Errorf("Cache-Control %q, want the handler's", got)
	}
}

func TestText(t *testing.T) {
	resp := lambda.Text(http.StatusNotFound, "not here")
	if resp.StatusCode != 404 || resp.Body != "not here" || header(resp, "Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("response %+v", resp)
	}
	checkSecurityHeaders(t, resp)
}
