#!/bin/bash
# doc_diagram.sh - the build draws doc/exchange.md's mail-flow diagram from
# its Graphviz source: build/doc/mailflow.svg exists, is not older than
# doc/mailflow.dot, and shows the source's nodes; the page links it.
. "$(dirname "$0")/../lib/common.sh"

dot_src=$NSMILTER_SRCDIR/doc/mailflow.dot
svg=$NSMILTER_BUILDDIR/doc/mailflow.svg
page=$NSMILTER_SRCDIR/doc/exchange.md
if [ -f "$svg" ]; then pass "the build drew doc/mailflow.svg"
else fail "no $svg (is graphviz installed? contrib/setup-debian.sh)"; fi
[ ! "$svg" -ot "$dot_src" ] && pass "the drawing is not older than its source" ||
    fail "$svg is older than $dot_src: rebuild"
assert_file_match "$svg" "<svg" "it is an SVG"
for node in nsmilter "Postfix gateway" "Exchange" "\[directory legacy\]" mirror; do
	assert_file_match "$svg" ">$node" "the drawing shows $node"
done
# The same source drawn now gives the same nodes (the .dot is the truth).
dot -Tsvg "$dot_src" > "$T_DIR/now.svg" 2>"$T_DIR/dot.err" || fail "dot draws the source"
assert_eq "$(grep -c '<g id="node' "$T_DIR/now.svg")" "$(grep -c '<g id="node' "$svg")" \
    "the built drawing has the source's nodes"
assert_file_match "$page" '\]\(mailflow\.svg\)' "doc/exchange.md shows the drawing"
for topic in "Internal Relay" "send connector" "targetAddress" "Recipient Filtering" "EdgeSync"; do
	assert_file_match "$page" "$topic" "doc/exchange.md covers $topic"
done
done_testing
