package main

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/mailgun/mailguntest"
)

// pageForm reads a page's sign form as a browser would submit it: its
// hidden fields and the letter in its textarea, with a supporter's details.
func pageForm(t *testing.T, page, email string) url.Values {
	t.Helper()
	textarea := textareaPattern.FindStringSubmatch(page)
	if textarea == nil {
		t.Fatalf("the page has no letter field:\n%s", page)
	}
	form := url.Values{"body": {html.UnescapeString(textarea[1])}}
	for _, m := range hiddenPattern.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(strings.Trim(m[2], `"`)))
	}
	for k, v := range map[string]string{"first_name": "Jane", "last_name": "Doe", "email": email,
		"address": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"} {
		form.Set(k, v)
	}
	return form
}

// postForm posts the form and returns where the answer sends the supporter.
func postForm(t *testing.T, u string, form url.Values) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(u+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /api/sign = %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

const secondLetter = `---
title: "Restore asylum at the border"
id: asylum
subject: "Restore asylum at the border"
thanks: /thanks-asylum
targets:
  - name: Alejandro Mayorkas
    title: Secretary of Homeland Security
    email: secretary@dhs.example
    salutation: "Dear Secretary Mayorkas,"
---
Seeking asylum is a right. Please restore it at every port of entry.

{{< signature >}}
Sincerely,

{{< field full_name >}}
{{< /signature >}}
`

// A second letter has its own page whose form posts its own id, and the
// letter that reaches the stand-in Mailgun is that letter's text; the
// campaign page lists it.
func TestSecondLetterSendsItsOwnLetter(t *testing.T) {
	proj := copyProject(t)
	write(t, proj, "content/letters/asylum.md", secondLetter)
	write(t, proj, "content/thanks-asylum.md", "---\ntitle: Thank you for standing up for asylum\n---\nYour letter is on its way.\n")
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Root: proj, Env: append(mailgunEnv(mg), noConfirm)})

	if _, home := get(t, inst.URL+"/"); !strings.Contains(home, `<a href=/letters/asylum/>Restore asylum at the border</a>`) {
		t.Errorf("the campaign page does not list the second letter")
	}
	resp, page := get(t, inst.URL+"/letters/asylum/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /letters/asylum/ = %d", resp.StatusCode)
	}
	form := pageForm(t, page, "jane@example.org")
	if form.Get("letter") != "asylum" {
		t.Fatalf("the second letter's form posts letter=%q", form.Get("letter"))
	}
	// Its own thank-you page, named in its front matter.
	if to := postForm(t, inst.URL, form); to != "/thanks-asylum/" {
		t.Errorf("the second letter's signer is sent to %q, want its own /thanks-asylum/", to)
	}
	msgs := mg.WaitFor(1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("stand-in got %d messages, want 1\n%s", len(msgs), inst.Logs())
	}
	want := "Dear Secretary Mayorkas,\n\nSeeking asylum is a right. Please restore it at every port of entry.\n\nSincerely,\n\nJane Doe\n"
	if got := msgs[0].Get("text"); got != want {
		t.Errorf("sent:\n%q\nwant:\n%q", got, want)
	}
	if to, subject := msgs[0].Get("to"), msgs[0].Get("subject"); to != `"Alejandro Mayorkas" <secretary@dhs.example>` || subject != "Restore asylum at the border" {
		t.Errorf("sent to %q with subject %q", to, subject)
	}
}

// The seed's passage for the President reaches only the President, the
// Secretary's only the Secretary, without their markers; a supporter who
// deletes a marker has their text sent as typed to both.
func TestPassageReachesOnlyItsTarget(t *testing.T) {
	const (
		forPresident = "I also urge that you, Secretary Nielsen, and Attorney General Sessions visit"
		forSecretary = "I also urge that you and Attorney General Sessions visit"
		marker       = "[Only in the letter to Donald J. Trump:]"
	)
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: append(mailgunEnv(mg), noConfirm)})
	_, page := get(t, inst.URL+"/")
	form := pageForm(t, page, "jane@example.org")
	// The editable letter, the page's one view of it, marks the passage.
	if !strings.Contains(form.Get("body"), marker+"\n\n"+forPresident) {
		t.Fatalf("the editable letter does not mark the passage:\n%s", form.Get("body"))
	}
	postForm(t, inst.URL, form)
	byTarget := func(n int) map[string]string {
		t.Helper()
		msgs := mg.WaitFor(n, 20*time.Second)
		if len(msgs) != n {
			t.Fatalf("stand-in got %d messages, want %d\n%s", len(msgs), n, inst.Logs())
		}
		got := map[string]string{}
		for _, m := range msgs[n-2:] {
			to := m.Get("to")
			got[to[strings.LastIndex(to, "<")+1:len(to)-1]] = m.Get("text")
		}
		return got
	}
	sent := byTarget(2)
	president, secretary := sent["president@whitehouse.example"], sent["secretary@dhs.example"]
	if !strings.Contains(president, forPresident) || strings.Contains(president, forSecretary) {
		t.Errorf("the President's copy:\n%s", president)
	}
	if !strings.Contains(secretary, forSecretary) || strings.Contains(secretary, forPresident) {
		t.Errorf("the Secretary's copy:\n%s", secretary)
	}
	for _, text := range sent {
		if strings.Contains(text, "[Only in") || strings.Contains(text, "[End of") || strings.Contains(text, "\n\n\n") {
			t.Errorf("a copy keeps a marker or a gap:\n%s", text)
		}
	}

	// Deleting the President's end marker: that passage goes to both as typed.
	edited := form.Get("body")
	end := "\n\n[End of the part only for Donald J. Trump]"
	if !strings.Contains(edited, end) {
		t.Fatalf("no end marker in %q", edited)
	}
	form.Set("body", strings.Replace(edited, end, "", 1))
	form.Set("email", "john@example.org")
	postForm(t, inst.URL, form)
	sent = byTarget(4)
	for to, text := range sent {
		if !strings.Contains(text, marker+"\n\n"+forPresident) {
			t.Errorf("%s does not receive the passage as typed:\n%s", to, text)
		}
	}
	if !strings.Contains(sent["secretary@dhs.example"], forSecretary) || strings.Contains(sent["president@whitehouse.example"], forSecretary) {
		t.Errorf("the Secretary's own passage, still whole, did not stay hers")
	}
}
