package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/netlify/lambda"
)

func getCount(path string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: path, Headers: map[string]string{"Host": "letters.example.org"}}
}

// The function counts from Postgres, and its answers ask Netlify's CDN to
// keep them: an instance keeps nothing between requests.
func TestCountThroughTheFunctionWithPostgres(t *testing.T) {
	url := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	fn := function(t, published(t, "production"), env)
	if signed := invoke(t, fn, event(t, "form.json")); signed.StatusCode != 303 {
		t.Fatalf("sign: %d %s", signed.StatusCode, signed.Body)
	}
	resp := invoke(t, fn, getCount("/api/letters/family-separation/count"))
	if resp.StatusCode != 200 || strings.TrimSpace(resp.Body) != `{"letter":"family-separation","count":1,"goal":0}` {
		t.Fatalf("count: %d %s", resp.StatusCode, resp.Body)
	}
	if cc, cdn := header(resp, "Cache-Control"), header(resp, "Netlify-Cdn-Cache-Control"); cc != "public, max-age=30" || !strings.Contains(cdn, "durable") {
		t.Errorf("Cache-Control %q, Netlify-CDN-Cache-Control %q", cc, cdn)
	}
	// Called directly, the function's own URL reaches the same image.
	svg := invoke(t, fn, getCount("/.netlify/functions/sign/letters/family-separation/count.svg"))
	if svg.StatusCode != 200 || header(svg, "Content-Type") != "image/svg+xml; charset=utf-8" || !strings.Contains(svg.Body, "1 signature") {
		t.Fatalf("count.svg: %d %q %s", svg.StatusCode, header(svg, "Content-Type"), svg.Body)
	}
}

// Without DATABASE_URL the function sends directly and keeps nothing to
// count: it says what the count needs.
func TestCountNeedsADatabase(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	fn := function(t, published(t, "production"), mailgunEnv(mg))
	for _, path := range []string{"/api/letters/family-separation/count", "/api/letters/family-separation/count.svg"} {
		resp := invoke(t, fn, getCount(path))
		if resp.StatusCode != 503 || !strings.Contains(resp.Body, "DATABASE_URL") {
			t.Errorf("%s without a database: %d %s", path, resp.StatusCode, resp.Body)
		}
	}
	if resp := invoke(t, fn, getCount("/api/letters/nope/count")); resp.StatusCode != 404 {
		t.Errorf("an unknown letter: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestCountDirectCallPath(t *testing.T) {
	req, err := lambda.Request(context.Background(), getCount("/.netlify/functions/sign/letters/family-separation/count"), paths)
	if err != nil || req.URL.Path != "/api/letters/family-separation/count" {
		t.Fatalf("reaches the handler as %v (%v)", req.URL, err)
	}
}
