// Package lambda adapts an http.Handler to the AWS Lambda API Gateway
// proxy events that Netlify's Go functions receive, so the function runs
// the same handler as `campaign serve`, with no logic of its own.
package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler"
)

// ClientIPHeader is where Netlify puts the client's address.
const ClientIPHeader = "X-Nf-Client-Connection-Ip"

// Adapter serves API Gateway proxy events with an http.Handler.
type Adapter struct {
	Handler http.Handler
	// Paths maps a function path (as Netlify passes it when the function is
	// called directly) to the handler's path, e.g.
	// "/.netlify/functions/sign" to "/api/sign". The longest that matches
	// the whole path or a folder of it wins.
	Paths map[string]string
}

// textCSP is the policy of answers that load nothing: the adapter's own,
// and any of the handler's that sets no policy of its own.
const textCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// defaultHeaders are those every answer carries unless its handler says
// otherwise. Netlify's [[headers]] rules reach only static files, never a
// function's answers.
func defaultHeaders(h http.Header) {
	handler.SecurityHeaders(h, textCSP)
	h.Set("Cache-Control", "no-store")
}

// Text is a plain-text answer of a function's own, with the headers every
// answer carries.
func Text(status int, body string) events.APIGatewayProxyResponse {
	h := http.Header{}
	defaultHeaders(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return Response(status, h, []byte(body))
}

// Invoke turns the event into a request, serves it and returns the
// response as an event. It is lambda.Start's handler.
func (a Adapter) Invoke(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	req, err := Request(ctx, ev, a.Paths)
	if err != nil {
		return Text(http.StatusBadRequest, "The request could not be read: "+err.Error()), nil
	}
	rec := httptest.NewRecorder()
	defaultHeaders(rec.Header())
	a.Handler.ServeHTTP(rec, req)
	return Response(rec.Result().StatusCode, rec.Header(), rec.Body.Bytes()), nil
}

// Request builds the http.Request an event describes.
func Request(ctx context.Context, ev events.APIGatewayProxyRequest, paths map[string]string) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("body is not valid base64: %w", err)
		}
	}
	path := ev.Path
	if path == "" {
		path = "/"
	}
	longest := ""
	for from := range paths {
		if (path == from || strings.HasPrefix(path, from+"/")) && len(from) > len(longest) {
			longest = from
		}
	}
	if longest != "" {
		path = paths[longest] + strings.TrimPrefix(path, longest)
	}
	u := &url.URL{Path: path}
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = append([]string(nil), vs...)
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	method := ev.HTTPMethod
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	req.Host = req.Header.Get("Host")
	req.ContentLength = int64(len(body))
	if ip := clientIP(req, ev); ip.IsValid() {
		req.RemoteAddr = netip.AddrPortFrom(ip, 0).String()
	}
	if strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https") {
		req.URL.Scheme = "https"
	}
	return req, nil
}

// clientIP is the supporter's address as Netlify saw it: its header,
// when that holds one IP address, else the event's source IP.
// X-Forwarded-For is not used: its first entries are whatever the client
// claims. With neither, the address is unknown (invalid), and the handler
// keeps no per-client bucket for the request rather than one shared by
// every such request.
func clientIP(r *http.Request, ev events.APIGatewayProxyRequest) netip.Addr {
	if vs := r.Header.Values(ClientIPHeader); len(vs) == 1 {
		if addr, err := netip.ParseAddr(strings.TrimSpace(vs[0])); err == nil {
			return addr
		}
	}
	addr, _ := netip.ParseAddr(strings.TrimSpace(ev.RequestContext.Identity.SourceIP))
	return addr
}

// Response turns a recorded response into an event; bodies that are not
// UTF-8 text travel base64-encoded.
func Response(status int, header http.Header, body []byte) events.APIGatewayProxyResponse {
	resp := events.APIGatewayProxyResponse{StatusCode: status, MultiValueHeaders: map[string][]string{}}
	for k, vs := range header {
		resp.MultiValueHeaders[k] = append([]string(nil), vs...)
	}
	if utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}
