package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"campaignkit/bench/loadtest"
)

// The editors' figures (issue 11): how soon an edit under `campaign
// serve` is live, and how long the site takes to build with many letters.

// benchLetter is the letter the runs edit and copy.
const benchLetter = "content/letters/family-separation.md"

// campaignBinary builds the campaign program into tmp.
func campaignBinary(tmp string) (string, error) {
	bin := filepath.Join(tmp, "campaign")
	build := exec.Command("go", "build", "-o", bin, "./cmd/campaign")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return bin, build.Run()
}

// copyProject copies the project's content/, layouts/ and site/ (without
// Hugo's caches) into dst.
func copyProject(root, dst string) error {
	for _, dir := range []string{"content", "layouts", "site"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case rel == filepath.Join("site", "resources"):
				return filepath.SkipDir
			case d.Name() == ".hugo_build.lock":
				return nil
			case d.IsDir():
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// projectCopy makes a temp folder (its name starting with prefix) holding
// the campaign binary and a copy of this project's editable parts, for a
// run that edits or grows them; the caller removes tmp.
func projectCopy(prefix string) (tmp, bin, proj string, err error) {
	if tmp, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", "", err
	}
	root, err := os.Getwd()
	if err == nil {
		bin, err = campaignBinary(tmp)
	}
	proj = filepath.Join(tmp, "project")
	if err == nil {
		err = copyProject(root, proj)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", "", err
	}
	return tmp, bin, proj, nil
}

// hugoTotal is Hugo's own report of a build's time.
var hugoTotal = regexp.MustCompile(`Total in (\d+) ms`)

var goalLine = regexp.MustCompile(`(?m)^#? ?goal: \d+$`)

// reload edits the letter under a running `campaign serve` (live reload
// on) n times, as an editor saves (a new file renamed over the old), and
// measures from each save until the handler merges the new letter: its
// goal, read through the public count, is the one just saved. It prints
// the median and the maximum, and serve's own build time for each.
func reload(n int) error {
	tmp, bin, proj, err := projectCopy("bench-reload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := loadtest.Start(loadtest.Options{Binary: bin, Root: proj, DataDir: filepath.Join(tmp, "data"),
		Public: filepath.Join(tmp, "public"), Watch: true})
	if err != nil {
		return err
	}
	defer p.Stop()

	file := filepath.Join(proj, benchLetter)
	orig, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !goalLine.Match(orig) {
		return fmt.Errorf("%s has no goal line to edit", benchLetter)
	}
	goal := func() int {
		resp, err := http.Get(p.URL + "/api/letters/family-separation/count")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var c struct{ Goal int }
		json.NewDecoder(resp.Body).Decode(&c)
		return c.Goal
	}
	rssBefore := rss(p.Pid())
	var took []time.Duration
	for i := 1; i <= n; i++ {
		want := 10000 + i
		text := goalLine.ReplaceAllString(string(orig), fmt.Sprintf("goal: %d", want))
		text = strings.Replace(text, "I am writing", fmt.Sprintf("I am writing (edit %d)", i), 1)
		tmpFile := file + ".save"
		if err := os.WriteFile(tmpFile, []byte(text), 0o644); err != nil {
			return err
		}
		start := time.Now()
		if err := os.Rename(tmpFile, file); err != nil {
			return err
		}
		for goal() != want {
			if time.Since(start) > 10*time.Second {
				return fmt.Errorf("edit %d not live after 10s:\n%s", i, p.Logs())
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
		time.Sleep(300 * time.Millisecond) // apart: one rebuild each
	}
	builds := regexp.MustCompile(`msg="rebuilt the site and letters".* took=(\S+)`).FindAllStringSubmatch(p.Logs(), -1)
	var built []time.Duration
	for _, m := range builds {
		if d, err := time.ParseDuration(m[1]); err == nil {
			built = append(built, d)
		}
	}
	slices.Sort(took)
	slices.Sort(built)
	fmt.Printf("reload: %d edits of the letter under campaign serve, each saved as editors do (written beside, renamed over)\n", n)
	fmt.Printf("  save to new letters live (the handler merges the saved text): median %v, max %v\n",
		took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if len(built) > 0 {
		fmt.Printf("  of which serve's rebuild (Hugo build into a fresh folder, letter checks, swap): median %v, max %v, %d rebuilds\n",
			built[len(built)/2], built[len(built)-1], len(built))
	}
	fmt.Printf("  serve's resident memory: %s before the edits, %s after\n", rssBefore, rss(p.Pid()))
	return nil
}

// rss is a process's resident memory as Linux reports it ("unknown"
// elsewhere).
func rss(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// manyLetters builds the site with n letters: the project's letter and
// n-1 copies under other ids, in a temp copy of the project, with
// `campaign build` as Netlify runs it (-function "" : no function copy),
// rounds times, and prints each build's seconds.
func manyLetters(n, rounds int) error {
	tmp, bin, proj, err := projectCopy("bench-letters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	orig, err := os.ReadFile(filepath.Join(proj, benchLetter))
	if err != nil {
		return err
	}
	if !strings.Contains(string(orig), "\nid: family-separation\n") {
		return fmt.Errorf("%s has no id line to change", benchLetter)
	}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("letter-%04d", i)
		text := strings.Replace(string(orig), "\nid: family-separation\n", "\nid: "+id+"\n", 1)
		text = strings.Replace(text, `title: "Protect children, end family separation"`, fmt.Sprintf(`title: "Letter %d"`, i), 1)
		if err := os.WriteFile(filepath.Join(proj, "content", "letters", id+".md"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	public := filepath.Join(tmp, "public")
	var secs []float64
	var hugoMS []string
	for r := 0; r < rounds; r++ {
		build := exec.Command(bin, "build", "-function", "", "-public", public)
		build.Dir = proj
		build.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		start := time.Now()
		out, err := build.CombinedOutput()
		if err != nil {
			return fmt.Errorf("campaign build: %v\n%s", err, out)
		}
		secs = append(secs, time.Since(start).Seconds())
		if m := hugoTotal.FindSubmatch(out); m != nil {
			hugoMS = append(hugoMS, string(m[1]))
		}
	}
	letters, _ := filepath.Glob(filepath.Join(public, "letters", "*", "index.json"))
	if len(letters) != n {
		return fmt.Errorf("the build published %d letters, want %d", len(letters), n)
	}
	fmt.Printf("letters: campaign build (Hugo, then the letter checks) of the site with %d letters, %d runs\n", n, rounds)
	for i, s := range secs {
		fmt.Printf("  run %d: %.2f s", i+1, s)
		if i < len(hugoMS) {
			fmt.Printf(" (Hugo's own count: %s ms)", hugoMS[i])
		}
		fmt.Println()
	}
	slices.Sort(secs)
	fmt.Printf("  median %.2f s (%.1f ms a letter)\n", secs[len(secs)/2], secs[len(secs)/2]*1000/float64(n))
	return nil
}
