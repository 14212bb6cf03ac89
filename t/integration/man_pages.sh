#!/bin/bash
# man_pages.sh - doc/nsmilter.8 and doc/nsmilter.ini.5 render without a
# single complaint from man --warnings (groff's own checks, as lintian's
# groff-message check does), and the check does see a broken page.
. "$(dirname "$0")/../lib/common.sh"

# render PAGE: print man's warnings (stderr) for PAGE, nothing when clean.
render() {
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
}

for page in "$NSMILTER_SRCDIR"/doc/nsmilter.8 "$NSMILTER_SRCDIR"/doc/nsmilter.ini.5; do
	name=$(basename "$page")
	[ -f "$page" ] || { fail "$name: missing"; continue; }
	assert_eq "$(render "$page")" "" "$name renders without warnings"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null)
	assert_match "$out" '^NAME' "$name has a NAME section"
done

# The check itself: an undefined macro and an unknown escape are reported.
printf '.TH BROKEN 8\n.SH NAME\nbroken \\- page\n.BX word\n\\fZtext\n' > "$T_DIR/broken.8"
assert_match "$(render "$T_DIR/broken.8")" "warning" "a broken page gets warnings"
done_testing
