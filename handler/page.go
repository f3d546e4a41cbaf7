package handler

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/html"

	"campaignkit/handler/letter"
)

// The handler's HTML pages are built by Hugo with the site (the letter's
// "pages" in its JSON output, from layouts/_partials/handler/): the site's
// shell, words and the campaign page's own form. The handler parses each
// page once into tokens and, per request, streams them back with what it
// fills in: the values typed, each problem beside its field and in the
// summary, the date a letter was signed. Everything from a supporter goes
// out through html.Token.String, which escapes it.

// errorPage renders the HTML error page for a form post: the form again,
// holding what the supporter typed, with each problem named.
// l is the letter whose page it is, in the supporter's language.
func (h *handler) errorPage(w http.ResponseWriter, status int, l *letter.Letter, s *letter.Signer, problems map[string]string) {
	if l == nil {
		// No letter at all: letter.Load refuses such a site, so only a
		// handler made without letters gets here.
		http.Error(w, "This campaign takes no letters.", status)
		return
	}
	var values map[string]string
	if s != nil {
		values = s.Values()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if h.cfg.Verifier != nil {
		w.Header().Set("Content-Security-Policy", challengeCSP)
	}
	w.WriteHeader(status)
	if err := h.pages.get(l.Pages.Error).fillForm(w, values, problems); err != nil {
		h.log.Error("error page", "error", err.Error())
	}
}

// alreadyPage tells a repeat signer, in their own browser, that their
// letter went out on date and nothing new was sent, in l's language.
func (h *handler) alreadyPage(w http.ResponseWriter, l *letter.Letter, sig *letter.Signature) {
	// One of the page's paragraphs applies: sent (or on its way), held
	// for an organizer, or rejected by one.
	stands := "sent"
	switch sig.State {
	case letter.SignatureHeld:
		stands = "held"
	case letter.SignatureRejected:
		stands = "rejected"
	}
	at := sig.ConfirmedAt
	if at.IsZero() {
		at = sig.CreatedAt
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := h.pages.get(l.Pages.Already).fill(w, map[string]string{"date": l.Date(at), stands: "yes"}, nil, ""); err != nil {
		h.log.Error("already-signed page", "error", err.Error())
	}
}

// CheckPages reports what in a letter's Hugo-built pages the handler
// could not fill: the error page's summary list, a labelled control for
// each of the supporter's details and the hidden letter field, the date on
// the already-signed page. A template edit that drops one would leave a
// supporter without the message that matters.
func CheckPages(l *letter.Letter) error {
	var problems []string
	p := parsePage(l.Pages.Error)
	if p.summary < 0 {
		problems = append(problems, "the error page has no list inside #"+summaryID)
	}
	if c := p.controls["letter"]; c == nil {
		problems = append(problems, "the error page's form has no letter field")
	}
	for _, f := range letter.Fields {
		if f.Detail && p.field(f.Name) == nil {
			problems = append(problems, fmt.Sprintf("the error page's form has no labelled %s field", f.Name))
		}
	}
	if !parsePage(l.Pages.Already).shows("date") {
		problems = append(problems, "the already-signed page does not show "+datePlaceholder)
	}
	if c := parsePage(l.Pages.Confirm); c.action < 0 || c.eachEnd < 0 || !c.shows("text") || !c.shows("to") {
		problems = append(problems, "the confirmation page lacks its form (data-fill-action) or a data-each block showing {to} and {text}")
	}
	if len(problems) > 0 {
		return fmt.Errorf("letter %q: %s (layouts/_partials/handler/)", l.ID, strings.Join(problems, "; "))
	}
	return nil
}

// CheckLetters runs CheckPages on every letter and its translations.
func CheckLetters(letters letter.Letters) error {
	var errs []error
	for _, l := range letters {
		errs = append(errs, CheckPages(l))
		if err := l.CheckPlaceholders(); err != nil {
			errs = append(errs, fmt.Errorf("letter %q: %w", l.ID, err))
		}
		for lang, t := range l.Translations {
			if err := CheckPages(t); err != nil {
				errs = append(errs, fmt.Errorf("in %q: %w", lang, err))
			}
			if err := t.CheckPlaceholders(); err != nil {
				errs = append(errs, fmt.Errorf("letter %q in %q: %w", l.ID, lang, err))
			}
		}
	}
	return errors.Join(errs...)
}

// anyLetter is a letter to take the form's page from when the request
// named none we know.
func (h *handler) anyLetter() *letter.Letter {
	letters := h.letters()
	ids := make([]string, 0, len(letters))
	for id := range letters {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	return letters[ids[0]]
}

// datePlaceholder is where the already-signed page's words put the date.
const datePlaceholder = "{date}"

// summaryID is the id of the error page's problem summary, whose first
// list the handler fills with one item per problem.
const summaryID = "problems"

// pageCache holds each page parsed once, keyed by the page's text: a
// letter's page is parsed the first time it is needed and never again.
// Its zero value is ready to use.
type pageCache struct {
	mu sync.Mutex
	m  map[string]*parseOnce
}

type parseOnce struct {
	once sync.Once
	p    *page
}

func (c *pageCache) get(src string) *page {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*parseOnce{}
	}
	e := c.m[src]
	if e == nil {
		e = &parseOnce{}
		c.m[src] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.p = parsePage(src) })
	return e.p
}

// page is a Hugo-built document as tokens, with the places the handler
// fills found in advance.
type page struct {
	toks []pageToken
	// controls are the form's controls by name, the first of each name.
	controls map[string]*control
	// summary is the index of the start tag of the list in #problems, or -1.
	summary int
	// fills are the indexes of text tokens holding a placeholder ({date}).
	fills []int
	// each is the start tag of the element repeated once per item
	// (data-each), eachEnd its end tag; -1 when the page has none.
	each, eachEnd int
	// action is the start tag whose action the handler sets
	// (data-fill-action), or -1.
	action int
	// conds are the elements shown only when a value is given (data-if,
	// outside data-each): their end tags by their start tags' indexes.
	conds map[int]cond
}

type cond struct {
	name string
	end  int
}

type pageToken struct {
	raw string // as Hugo wrote it
	tok html.Token
}

// control is an input, textarea or select of the form.
type control struct {
	name, id, typ string // typ: the input's type, or "textarea", "select"
	at            int    // index of its start tag
	options       []int  // a select's <option> start tags
	// label is the text of its <label for=id>, without the
	// "(required)"/"(optional)" marker; labelEnd the index of </label>, or -1.
	label    string
	labelEnd int
	// hiddenBy is the index of the start tag of an aria-hidden ancestor
	// (the honeypot's box), or -1.
	hiddenBy int
}

// voidElements have no end tag, so they never hold other elements.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

func parsePage(src string) *page {
	p := &page{controls: map[string]*control{}, summary: -1, each: -1, eachEnd: -1, action: -1, conds: map[int]cond{}}
	type open struct {
		tag string
		at  int
	}
	var (
		stack      []open
		labels     = map[string]string{} // label text by the id it is for
		labelEnds  = map[string]int{}
		labelFor   string // the label being read, if any
		labelText  strings.Builder
		markerOpen int // depth of a marker span inside the label being read
		sel        *control
	)
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := string(z.Raw())
		t := z.Token()
		i := len(p.toks)
		p.toks = append(p.toks, pageToken{raw: raw, tok: t})
		switch tt {
		case html.TextToken:
			if labelFor != "" && markerOpen == 0 {
				labelText.WriteString(t.Data)
			}
			if textPlaceholder.MatchString(t.Data) {
				p.fills = append(p.fills, i)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			if _, ok := getAttr(t, "data-each"); ok && p.each < 0 && tt == html.StartTagToken {
				p.each = i
			}
			if _, ok := getAttr(t, "data-fill-action"); ok && p.action < 0 {
				p.action = i
			}
			if name, ok := getAttr(t, "data-if"); ok && tt == html.StartTagToken && !voidElements[t.Data] {
				p.conds[i] = cond{name: name, end: -1}
			}
			switch t.Data {
			case "input", "textarea", "select":
				name, _ := getAttr(t, "name")
				if name == "" || p.controls[name] != nil {
					break
				}
				c := &control{name: name, typ: t.Data, at: i, labelEnd: -1, hiddenBy: -1}
				c.id, _ = getAttr(t, "id")
				if t.Data == "input" {
					c.typ, _ = getAttr(t, "type")
					if c.typ == "" {
						c.typ = "text"
					}
				}
				for j := len(stack) - 1; j >= 0; j-- {
					if v, _ := getAttr(p.toks[stack[j].at].tok, "aria-hidden"); v == "true" {
						c.hiddenBy = stack[j].at
						break
					}
				}
				p.controls[name] = c
				if t.Data == "select" {
					sel = c
				}
			case "option":
				if sel != nil {
					sel.options = append(sel.options, i)
				}
			case "label":
				labelFor, _ = getAttr(t, "for")
				labelText.Reset()
			case "span":
				if class, _ := getAttr(t, "class"); labelFor != "" && slices.Contains(strings.Fields(class), "req") {
					markerOpen++
				} else if markerOpen > 0 {
					markerOpen++
				}
			case "ul", "ol":
				if p.summary < 0 {
					for _, o := range stack {
						if id, _ := getAttr(p.toks[o.at].tok, "id"); id == summaryID {
							p.summary = i
						}
					}
				}
			}
			if tt == html.StartTagToken && !voidElements[t.Data] {
				stack = append(stack, open{t.Data, i})
			}
		case html.EndTagToken:
			switch t.Data {
			case "select":
				sel = nil
			case "label":
				if labelFor != "" {
					labels[labelFor] = strings.Join(strings.Fields(labelText.String()), " ")
					labelEnds[labelFor] = i
				}
				labelFor, markerOpen = "", 0
			case "span":
				if markerOpen > 0 {
					markerOpen--
				}
			}
			for j := len(stack) - 1; j >= 0; j-- {
				if stack[j].tag == t.Data {
					if stack[j].at == p.each {
						p.eachEnd = i
					}
					if c, ok := p.conds[stack[j].at]; ok {
						p.conds[stack[j].at] = cond{name: c.name, end: i}
					}
					stack = stack[:j]
					break
				}
			}
		}
	}
	for _, c := range p.controls {
		if c.id == "" {
			continue
		}
		if end, ok := labelEnds[c.id]; ok {
			c.label, c.labelEnd = labels[c.id], end
		}
	}
	return p
}

// shows reports whether the page's text has a place for the named value.
func (p *page) shows(name string) bool {
	for _, i := range p.fills {
		if strings.Contains(p.toks[i].tok.Data, "{"+name+"}") {
			return true
		}
	}
	return false
}

// field is the control a problem by this name points at, if a supporter
// sees it (it has a label and is no hidden input), else nil.
func (p *page) field(name string) *control {
	c := p.controls[name]
	if c == nil || c.typ == "hidden" || c.id == "" || c.labelEnd < 0 {
		return nil
	}
	return c
}

// fillForm writes the page with values (by field name; nil keeps the page's
// own) in its controls and each problem (by field name) beside its field
// and in the summary.
func (p *page) fillForm(w io.Writer, values, problems map[string]string) error {
	changed := map[int]html.Token{}
	after := map[int][]html.Token{}
	textarea := map[int]string{} // start tag index → the text it holds now

	tag := func(i int) html.Token {
		if t, ok := changed[i]; ok {
			return t
		}
		t := p.toks[i].tok
		t.Attr = slices.Clone(t.Attr)
		return t
	}
	for name, v := range values {
		c := p.controls[name]
		if c == nil {
			continue
		}
		if v == "" && c.typ != "hidden" && c.typ != "checkbox" && c.typ != "radio" {
			// An empty field keeps what the page holds: an empty subject or
			// letter means the published one is sent, so the page shows it.
			continue
		}
		switch c.typ {
		case "textarea":
			textarea[c.at] = v
		case "select":
			for _, o := range c.options {
				t := tag(o)
				val, _ := getAttr(t, "value")
				changed[o] = setAttr(t, "selected", "", val == v)
			}
		case "checkbox", "radio":
			t := tag(c.at)
			val, ok := getAttr(t, "value")
			if !ok {
				val = "on"
			}
			changed[c.at] = setAttr(t, "checked", "", val == v)
		case "submit", "button", "reset", "image", "file", "password":
		default:
			changed[c.at] = setAttr(tag(c.at), "value", v, true)
		}
	}

	type item struct {
		at      int // the control's place in the page; -1: no field
		name    string
		label   string
		message string
	}
	var summary []item
	for name, msg := range problems {
		c := p.field(name)
		if c == nil {
			summary = append(summary, item{at: -1, name: name, message: msg})
			continue
		}
		summary = append(summary, item{at: c.at, name: c.id, label: c.label, message: msg})
		errID := c.id + "-error"
		t := tag(c.at)
		t = setAttr(t, "aria-invalid", "true", true)
		described, _ := getAttr(t, "aria-describedby")
		t = setAttr(t, "aria-describedby", strings.TrimSpace(errID+" "+described), true)
		if c.hiddenBy >= 0 {
			// A field hidden from people (the honeypot) is shown and
			// reachable once it is what stands in the way.
			t = setAttr(t, "tabindex", "", false)
			box := setAttr(tag(c.hiddenBy), "aria-hidden", "", false)
			changed[c.hiddenBy] = setAttr(box, "class", "field", true)
		}
		changed[c.at] = t
		after[c.labelEnd] = append(after[c.labelEnd],
			html.Token{Type: html.StartTagToken, Data: "p", Attr: []html.Attribute{{Key: "class", Val: "error-text"}, {Key: "id", Val: errID}}},
			html.Token{Type: html.TextToken, Data: msg},
			html.Token{Type: html.EndTagToken, Data: "p"},
		)
	}
	// Problems with no field first, then the fields' in the page's order.
	slices.SortFunc(summary, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.name, b.name))
	})
	if p.summary >= 0 {
		var li []html.Token
		for _, s := range summary {
			li = append(li, html.Token{Type: html.TextToken, Data: "\n"}, html.Token{Type: html.StartTagToken, Data: "li"})
			if s.at >= 0 {
				li = append(li,
					html.Token{Type: html.StartTagToken, Data: "a", Attr: []html.Attribute{{Key: "href", Val: "#" + s.name}}},
					html.Token{Type: html.TextToken, Data: s.label},
					html.Token{Type: html.EndTagToken, Data: "a"},
					html.Token{Type: html.TextToken, Data: ": "})
			}
			li = append(li,
				html.Token{Type: html.TextToken, Data: s.message},
				html.Token{Type: html.EndTagToken, Data: "li"})
		}
		after[p.summary] = li
	}

	bw := bufio.NewWriter(w)
	for i := 0; i < len(p.toks); i++ {
		if t, ok := changed[i]; ok {
			bw.WriteString(t.String())
		} else {
			bw.WriteString(p.toks[i].raw)
		}
		if v, ok := textarea[i]; ok {
			// The text replaces the page's, up to </textarea>. A parser drops
			// one newline right after <textarea>: a text starting with one
			// gets another in front.
			if strings.HasPrefix(v, "\n") {
				v = "\n" + v
			}
			bw.WriteString(html.Token{Type: html.TextToken, Data: v}.String())
			for i+1 < len(p.toks) && p.toks[i+1].tok.Type == html.TextToken {
				i++
			}
		}
		for _, t := range after[i] {
			bw.WriteString(t.String())
		}
	}
	return bw.Flush()
}

// fill writes the page with each placeholder ({date}, {to}, …) in its
// text replaced by its value in vars, the data-each element once per item
// (with the item's values), the data-fill-action element's action set
// to action, and a data-if element only when vars holds its value. Values
// are text: they go out escaped.
func (p *page) fill(w io.Writer, vars map[string]string, items []map[string]string, action string) error {
	bw := bufio.NewWriter(w)
	fills := map[int]bool{}
	for _, i := range p.fills {
		fills[i] = true
	}
	write := func(i int, vars map[string]string) {
		_, cond := p.conds[i]
		switch {
		case cond:
			// Kept: the marker is the template's business, not the reader's.
			bw.WriteString(setAttr(p.toks[i].tok, "data-if", "", false).String())
		case i == p.action:
			t := p.toks[i].tok
			bw.WriteString(setAttr(t, "action", action, true).String())
		case fills[i]:
			t := p.toks[i].tok
			t.Data = textPlaceholder.ReplaceAllStringFunc(t.Data, func(m string) string {
				if v, ok := vars[m[1:len(m)-1]]; ok {
					return v
				}
				return m
			})
			bw.WriteString(t.String())
		default:
			bw.WriteString(p.toks[i].raw)
		}
	}
	for i := 0; i < len(p.toks); i++ {
		if c, ok := p.conds[i]; ok && c.end >= 0 && vars[c.name] == "" {
			i = c.end
			continue
		}
		if i != p.each || p.eachEnd < 0 {
			write(i, vars)
			continue
		}
		for _, item := range items {
			merged := maps.Clone(vars)
			if merged == nil {
				merged = map[string]string{}
			}
			maps.Copy(merged, item)
			for j := p.each; j <= p.eachEnd; j++ {
				write(j, merged)
			}
		}
		i = p.eachEnd
	}
	return bw.Flush()
}

// textPlaceholder is a value's place in a page's text: {date}, {to}.
var textPlaceholder = regexp.MustCompile(`\{[a-z_]+\}`)

func getAttr(t html.Token, key string) (string, bool) {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// setAttr returns t with the attribute key set to val (on), in its place
// if it was there, or removed (off).
func setAttr(t html.Token, key, val string, on bool) html.Token {
	attrs := slices.Clone(t.Attr)
	i := slices.IndexFunc(attrs, func(a html.Attribute) bool { return a.Key == key })
	switch {
	case on && i >= 0:
		attrs[i].Val = val
	case on:
		attrs = append(attrs, html.Attribute{Key: key, Val: val})
	case i >= 0:
		attrs = slices.Delete(attrs, i, i+1)
	}
	t.Attr = attrs
	return t
}
