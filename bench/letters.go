package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// letters measures `campaign build` (the campaign's checks, then Hugo) on a
// copy of the campaign with n letters: the seed and n-1 copies of it under
// other ids, each with its own page and JSON.
func letters(n, runs int) error {
	root, err := filepath.Abs(".")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-letters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binary := filepath.Join(tmp, "campaign")
	if out, err := exec.Command("go", "build", "-o", binary, "./cmd/campaign").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	proj := filepath.Join(tmp, "project")
	for _, dir := range []string{"site", "content", "layouts"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(proj, rel), 0o755)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(proj, rel), raw, 0o644)
		})
		if err != nil {
			return err
		}
	}
	seed, err := os.ReadFile(filepath.Join(proj, "content/letters/family-separation.md"))
	if err != nil {
		return err
	}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("letter-%04d", i)
		text := strings.Replace(string(seed), "id: family-separation", "id: "+id, 1)
		if err := os.WriteFile(filepath.Join(proj, "content/letters", id+".md"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	var times []time.Duration
	public := filepath.Join(tmp, "public")
	for r := 0; r < runs; r++ {
		cmd := exec.Command(binary, "build", "-public", public, "-function", "")
		cmd.Dir = proj
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("campaign build: %v\n%s", err, out)
		}
		times = append(times, time.Since(start))
	}
	pages, _ := filepath.Glob(filepath.Join(public, "letters", "*", "index.html"))
	slices.Sort(times)
	fmt.Printf("letters: `campaign build` of a campaign with %d letters (%d letter pages built), %d runs: median %v, fastest %v, slowest %v\n",
		n, len(pages), runs, times[len(times)/2].Round(time.Millisecond), times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	return nil
}
