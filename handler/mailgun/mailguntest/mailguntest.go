// Package mailguntest is a stand-in for Mailgun's messages API, for tests
// and benchmarks: it speaks the API mailgun-go calls, keeps every field of
// every message it accepts, and can misbehave on purpose (fail a share of
// calls, answer 429 above a rate, hang).
package mailguntest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Received is one accepted call, with every form field as sent.
type Received struct {
	Domain string
	ID     string // the id we answered with
	Fields map[string][]string
}

// Get is the first value of a field ("to", "h:Reply-To", "o:tag", …).
func (m Received) Get(field string) string {
	if v := m.Fields[field]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Behaviour makes the server misbehave. The zero value always accepts.
type Behaviour struct {
	// FailRate is the share of calls (0..1) answered 500.
	FailRate float64
	// HangRate is the share of calls that hang for HangFor before 500.
	HangRate float64
	HangFor  time.Duration
	// RateLimit answers 429 (with Retry-After: 1) above this many accepted
	// messages per second; zero means no limit.
	RateLimit int
	// Reject answers 400 to messages whose "to" contains this text.
	Reject string
	// Delay is how long each call takes, like a slow network.
	Delay time.Duration
	// Script answers the next calls in order, one entry each, before any
	// other behaviour; then the server behaves as the rest says.
	Script []Answer
}

// Answer is one scripted answer: a status and, when set, a Retry-After.
type Answer struct {
	Status     int
	RetryAfter string
}

// Call is one call the server answered.
type Call struct {
	At     time.Time
	Status int
}

// Server is the stand-in.
type Server struct {
	*httptest.Server
	// APIKey is the key clients are configured with.
	APIKey string
	// accepts is the key the server accepts (APIKey unless rotated).
	accepts string

	mu        sync.Mutex
	behaviour Behaviour
	messages  []Received
	calls     int
	statuses  map[int]int
	log       []Call
	window    time.Time
	inWindow  int
	seq       int
}

// New starts a stand-in that accepts the API key "key-test".
func New() *Server {
	s := &Server{APIKey: "key-test", accepts: "key-test", statuses: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// APIBase is what MAILGUN_API_BASE (or SetAPIBase) takes.
func (s *Server) APIBase() string { return s.URL + "/v3" }

// SetAcceptedKey changes the key the server accepts, as a rotated or
// revoked key would.
func (s *Server) SetAcceptedKey(key string) {
	s.mu.Lock()
	s.accepts = key
	s.mu.Unlock()
}

// SetBehaviour changes how the server answers from now on.
func (s *Server) SetBehaviour(b Behaviour) {
	s.mu.Lock()
	s.behaviour = b
	s.mu.Unlock()
}

// Messages returns the accepted messages so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// Calls returns how many calls were made and how many got each status.
func (s *Server) Calls() (int, map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := make(map[int]int, len(s.statuses))
	for k, v := range s.statuses {
		st[k] = v
	}
	return s.calls, st
}

// WaitFor waits until at least n messages were accepted, or the timeout.
func (s *Server) WaitFor(n int, timeout time.Duration) []Received {
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Log returns every call answered so far, in order, with its time.
func (s *Server) Log() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.log...)
}

func (s *Server) answer(w http.ResponseWriter, status int, body any) {
	s.mu.Lock()
	s.statuses[status]++
	s.log = append(s.log, Call{At: time.Now(), Status: status})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	b, key := s.behaviour, s.accepts
	var scripted *Answer
	if len(s.behaviour.Script) > 0 {
		scripted = &s.behaviour.Script[0]
		s.behaviour.Script = s.behaviour.Script[1:]
	}
	s.mu.Unlock()

	// POST /v3/{domain}/messages
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[0] != "v3" || parts[2] != "messages" {
		s.answer(w, http.StatusNotFound, map[string]string{"message": "not found"})
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != "api" || subtle.ConstantTimeCompare([]byte(pass), []byte(key)) != 1 {
		s.answer(w, http.StatusUnauthorized, map[string]string{"message": "Invalid private key"})
		return
	}
	if b.Delay > 0 {
		time.Sleep(b.Delay)
	}
	if scripted != nil && scripted.Status != http.StatusOK {
		if scripted.RetryAfter != "" {
			w.Header().Set("Retry-After", scripted.RetryAfter)
		}
		s.answer(w, scripted.Status, map[string]string{"message": "scripted answer"})
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		s.answer(w, http.StatusBadRequest, map[string]string{"message": "bad form: " + err.Error()})
		return
	}
	if b.HangRate > 0 && rand.Float64() < b.HangRate {
		select {
		case <-time.After(b.HangFor):
		case <-r.Context().Done():
		}
		s.answer(w, http.StatusInternalServerError, map[string]string{"message": "hung"})
		return
	}
	if b.FailRate > 0 && rand.Float64() < b.FailRate {
		s.answer(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	fields := map[string][]string(r.MultipartForm.Value)
	if b.Reject != "" && strings.Contains(strings.Join(fields["to"], ","), b.Reject) {
		s.answer(w, http.StatusBadRequest, map[string]string{"message": "'to' parameter is not a valid address. please check documentation"})
		return
	}
	s.mu.Lock()
	if b.RateLimit > 0 {
		now := time.Now()
		if now.Sub(s.window) >= time.Second {
			s.window, s.inWindow = now, 0
		}
		if s.inWindow >= b.RateLimit {
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(1))
			s.answer(w, http.StatusTooManyRequests, map[string]string{"message": "Too many requests"})
			return
		}
		s.inWindow++
	}
	s.seq++
	id := fmt.Sprintf("<%d.stand-in@%s>", s.seq, parts[1])
	s.messages = append(s.messages, Received{Domain: parts[1], ID: id, Fields: fields})
	s.mu.Unlock()
	s.answer(w, http.StatusOK, map[string]string{"id": id, "message": "Queued. Thank you."})
}
