// Package outbox is the local stand-in for sending: with no Mailgun key,
// each letter is kept as an .eml file in the data folder and listed on a
// local page, clearly marked as not sent, so an editor sees exactly what
// would go out.
package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// Outbox keeps letters as files in Dir.
type Outbox struct {
	Dir string
}

// New returns an outbox in dir; the folder is made with the first letter.
func New(dir string) (*Outbox, error) {
	return &Outbox{Dir: dir}, nil
}

// IDPrefix starts the id Send returns, so a message kept here is told
// from one the mail service took.
const IDPrefix = "outbox:"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func fileName(messageID string) string {
	return unsafeName.ReplaceAllString(messageID, "_") + ".eml"
}

// Send writes e as an RFC 5322 message. Writing the same message again
// replaces the file: a retry never makes a second copy.
func (o *Outbox) Send(_ context.Context, e *letter.Message) (string, error) {
	if err := e.CheckHeaders(); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("Message-Id", "<"+e.ID+">")
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("From", e.From)
	header("Reply-To", e.ReplyTo)
	header("To", e.To)
	header("Subject", mime.QEncoding.Encode("utf-8", e.Subject))
	if e.Tag != "" {
		header("X-Campaign-Tag", e.Tag)
	}
	header("X-Campaign-Outbox", "not sent")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(e.Text, "\n", "\r\n"))

	name := fileName(e.ID)
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	tmp, err := os.CreateTemp(o.Dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("outbox: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("outbox: write: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.Dir, name)); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	return IDPrefix + name, nil
}

// Letter is one kept letter, read back from its file.
type Letter struct {
	File    string
	Date    time.Time
	From    string
	ReplyTo string
	To      string
	Subject string
	Text    string
}

// List reads the kept letters, newest first.
func (o *Outbox) List() ([]Letter, error) {
	entries, err := os.ReadDir(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing kept yet
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	var out []Letter
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		l, err := o.read(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.After(out[j].Date) })
	return out, nil
}

func (o *Outbox) read(name string) (*Letter, error) {
	f, err := os.Open(filepath.Join(o.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	m, err := mail.ReadMessage(f)
	if err != nil {
		return nil, fmt.Errorf("outbox: read %s: %w", name, err)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(m.Body); err != nil {
		return nil, fmt.Errorf("outbox: read %s: %w", name, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	date, _ := m.Header.Date()
	return &Letter{
		File: name, Date: date, From: m.Header.Get("From"), ReplyTo: m.Header.Get("Reply-To"),
		To: m.Header.Get("To"), Subject: subject, Text: strings.ReplaceAll(body.String(), "\r\n", "\n"),
	}, nil
}

var page = template.Must(template.New("outbox").Funcs(template.FuncMap{"linked": linked}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local outbox: not sent</title>{{with .Stylesheet}}<link rel="stylesheet" href="{{.}}">{{end}}</head>
<body><p class="banner" role="status">Local outbox: these letters were NOT sent. Set MAILGUN_API_KEY and MAILGUN_DOMAIN to send for real.</p>
<main class="outbox"><h1>Local outbox</h1>
{{if not .Letters}}<p>No letters yet. Sign the campaign to see what would be sent.</p>{{end}}
{{range .Letters}}<article>
<h2>{{.Subject}}</h2>
<table><tbody>
<tr><th scope="row">To</th><td>{{.To}}</td></tr>
<tr><th scope="row">From</th><td>{{.From}}</td></tr>
<tr><th scope="row">Reply-To</th><td>{{.ReplyTo}}</td></tr>
<tr><th scope="row">Kept</th><td>{{.Date.Format "2006-01-02 15:04:05 MST"}} · <a href="{{.File}}">{{.File}}</a> · not sent</td></tr>
</tbody></table>
<pre>{{linked .Text}}</pre>
</article>{{end}}
</main></body></html>
`))

// confirmLink is a confirmation link in a kept email.
var confirmLink = regexp.MustCompile(`https?://[^\s<>"]+/api/confirm/[A-Za-z0-9_-]+`)

// linked is text, escaped, with its confirmation links made links, so a
// newcomer trying the campaign locally confirms with one click.
func linked(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range confirmLink.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := template.HTMLEscapeString(text[m[0]:m[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// Local reports whether r is from a browser on this machine, the only
// one that may see the outbox. The peer must be loopback, but a proxy on
// this machine connects from loopback for anyone, so a forwarding header
// refuses too; a loopback Host keeps out pages that rebind their own name
// to 127.0.0.1; and nginx's default proxying, which adds no header and
// names us in Host, speaks HTTP/1.0, which no browser does.
func Local(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !peer.Addr().Unmap().IsLoopback() || !r.ProtoAtLeast(1, 1) {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]") // no port
	}
	if !strings.EqualFold(host, "localhost") && host != "127.0.0.1" && host != "::1" {
		return false
	}
	for name := range r.Header {
		if forwarding[name] || strings.HasPrefix(name, "X-Forwarded-") {
			return false
		}
	}
	return true
}

// forwarding names the headers (canonical) proxies add besides X-Forwarded-*.
var forwarding = map[string]bool{
	"Forwarded": true, "Via": true, "X-Real-Ip": true, "X-Client-Ip": true, "Client-Ip": true,
	"True-Client-Ip": true, "Cf-Connecting-Ip": true, "Fastly-Client-Ip": true, "X-Cluster-Client-Ip": true,
	"X-Original-Forwarded-For": true, "X-Nf-Client-Connection-Ip": true,
}

// csp lets the outbox page load the site's stylesheet and nothing else.
const csp = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the outbox page and each kept .eml file, only to Local
// requests (anyone else gets a 404). Mount it with http.StripPrefix.
// Stylesheet is the site's stylesheet URL, if any.
func (o *Outbox) Handler(stylesheet string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Local(r) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name != "" {
			if name != filepath.Base(name) || !strings.HasSuffix(name, ".eml") {
				http.NotFound(w, r)
				return
			}
			o.serveFile(w, r, name)
			return
		}
		letters, err := o.List()
		if err != nil {
			http.Error(w, "The outbox could not be read.", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, struct {
			Stylesheet string
			Letters    []Letter
		}{stylesheet, letters})
	})
}

// serveFile sends a kept letter as a plain-text download: a browser
// neither renders it nor guesses another type.
func (o *Outbox) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, err := os.Open(filepath.Join(o.Dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	http.ServeContent(w, r, name, st.ModTime(), f)
}
