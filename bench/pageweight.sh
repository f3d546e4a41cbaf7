#!/usr/bin/env bash
# Prints the campaign page's weight per asset (raw and gzip), as the running
# `campaign serve` sends it, against the 15 KB budget. Same code as the test
# that enforces the budget (cmd/campaign/budget_test.go, TestPageBudget).
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./cmd/campaign -run '^TestPageBudget$' -count=1 -v |
  sed -n '/campaign page weight:/,/^--- /p' | sed -e '/^--- /d' -e 's/^ *//' -e 's/^.*: campaign page weight:/campaign page weight (bytes):/'
