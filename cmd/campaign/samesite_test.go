package main

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
)

// answerSign answers a send to /api/sign with this JSON, as a server (or
// anything between it and the page) could.
func answerSign(ctx context.Context, answer any) func(fetch.RequestID) error {
	body, _ := json.Marshal(answer)
	return func(id fetch.RequestID) error {
		_, err := chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
			RequestID: id, ResponseCode: 200, Body: body,
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
		})
		return err
	}
}

// TestBrowserThanksAddressStaysOnSite: the page follows the thank-you
// address of an answer only when it is a path on this site. "//host",
// "/\host" and their variants (browsers read "\" as "/" and skip tabs and
// line breaks) name another host; the page goes to its own /thanks/
// instead. The other host here is this same server under another name
// (localhost for 127.0.0.1), so that a wrong turn lands on a real page.
func TestBrowserThanksAddressStaysOnSite(t *testing.T) {
	inst := startServe(t, serveOpts{})
	u, err := url.Parse(inst.URL)
	if err != nil {
		t.Fatal(err)
	}
	other := "localhost:" + u.Port()
	if u.Hostname() != "127.0.0.1" {
		t.Fatalf("the server is at %s, want 127.0.0.1", inst.URL)
	}
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "samesite")

	tests := []struct{ thanks, want string }{
		{"/thanks/?via=answer", "/thanks/?via=answer"}, // a path of ours is followed
		{"//" + other + "/thanks/", "/thanks/"},
		{`/\` + other + "/thanks/", "/thanks/"},
		{`\\` + other + "/thanks/", "/thanks/"},
		{`\/` + other + "/thanks/", "/thanks/"},
		{"/\t/" + other + "/thanks/", "/thanks/"},
		{"/\n\\" + other + "/thanks/", "/thanks/"},
		{"/%09/" + other + "/thanks/", "/%09/" + other + "/thanks/"}, // encoded: a path, not a host
		{"http://" + other + "/thanks/", "/thanks/"},
		{" //" + other + "/thanks/", "/thanks/"},
		{"javascript:alert(1)", "/thanks/"},
	}
	var answers []func(fetch.RequestID) error
	for _, tt := range tests {
		answers = append(answers, answerSign(ctx, map[string]any{"status": "accepted", "thanks_url": tt.thanks}))
	}
	failSign(t, ctx, answers...)
	for _, tt := range tests {
		do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")),
			chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")))
		waitFor(t, ctx, "leaving the campaign page", `location.pathname !== "/"`)
		got := jsString(t, ctx, "location.href")
		if want := inst.URL + tt.want; got != want {
			t.Errorf("thanks_url %q: the page went to %s, want %s", tt.thanks, got, want)
		}
	}
}

// TestBrowserShareLinkTags: a share link's source and UTM tags reach the
// signature, cleaned; a line separator in one (a link pasted from a chat)
// no longer stops anyone signing.
func TestBrowserShareLinkTags(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	dir := t.TempDir()
	inst := startServe(t, serveOpts{DataDir: dir, Env: append(mailgunEnv(mg), noConfirm)})
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "share-link")

	link := "/?source=chat%E2%80%A8link&utm_source=newsletter&utm_medium=e%E2%80%8Bmail&utm_campaign=spring&utm_term=families&utm_content=button"
	do(t, ctx, chromedp.Navigate(inst.URL+link), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	if got := jsString(t, ctx, `["source","utm_source","utm_medium","utm_campaign","utm_term","utm_content"].map(n => document.querySelector("input[name="+n+"]").value).join("|")`); got != "chat\u2028link|newsletter|e\u200bmail|spring|families|button" {
		t.Errorf("the form holds %q", got)
	}
	do(t, ctx, fill(nil), chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")), chromedp.WaitVisible(chromedp.ID("share-heading")))
	sentTexts(t, mg, 2)

	st := storetest.OpenSQLite(t, dir)
	var got [6]string
	err := st.DB().QueryRow(`SELECT source, utm_source, utm_medium, utm_campaign, utm_term, utm_content FROM signatures`).
		Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5])
	if err != nil {
		t.Fatal(err)
	}
	if want := [6]string{"chat link", "newsletter", "email", "spring", "families", "button"}; got != want {
		t.Errorf("recorded %q, want %q", got, want)
	}
}
