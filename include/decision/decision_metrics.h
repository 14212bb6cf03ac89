/*
 * decision_metrics.h - a recipient decision, counted for the metrics
 * (README "Metrics"): nsmilter_decisions_total{domain,action},
 * nsmilter_conflicts_total{domain} and nsmilter_guard_total{guard="loop"}.
 */
#ifndef NSMILTER_DECISION_METRICS_H
#define NSMILTER_DECISION_METRICS_H

#include "decision/decide.h"

/*
 * Count D, decided for an RCPT by the milter.  Skipped recipients (no
 * shared domain) are not counted; a decision in observe mode counts as
 * decided.  The socketmap's transport lookups are not counted: they
 * decide the same recipients again at delivery.
 */
void decision_count(const struct decision *d);

/*
 * Add the series of every domain of CFG, so that a scrape shows them at 0
 * before their first decision (a rate needs the zero).
 */
void decision_metrics_register(const struct config *cfg);

#endif
