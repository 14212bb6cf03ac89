#!/bin/bash
# prometheus_contrib.sh - contrib/prometheus/ is what Prometheus accepts:
# the rules pass promtool check rules, each alert fires on the series that
# should raise it and not on healthy ones (promtool test rules with
# t/fixtures/prometheus/alerts_test.yml), and a prometheus.yml made of the
# scrape snippet plus the rules passes promtool check config.

. "$(dirname "$0")/../lib/common.sh"

P=$NSMILTER_SRCDIR/contrib/prometheus

out=$(promtool check rules "$P/alerts.yml" 2>&1)
assert_eq $? 0 "promtool check rules alerts.yml"
assert_match "$out" 'SUCCESS: 5 rules found' "all five rules are read"

out=$(promtool test rules "$NSMILTER_SRCDIR/t/fixtures/prometheus/alerts_test.yml" 2>&1)
assert_eq $? 0 "promtool test rules: every alert fires when it should, and only then"
[ "$T_FAILS" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'

cp "$P/alerts.yml" "$T_DIR/alerts.yml"
{ cat "$P/scrape.yml"; printf 'rule_files:\n  - alerts.yml\n'; } >"$T_DIR/prometheus.yml"
out=$(promtool check config "$T_DIR/prometheus.yml" 2>&1)
assert_eq $? 0 "promtool check config: scrape.yml plus the rules"
assert_match "$out" 'SUCCESS' "the config is read"
[ "$T_FAILS" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'

done_testing
