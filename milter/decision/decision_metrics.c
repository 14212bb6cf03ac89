/*
 * decision_metrics.c - counting decisions (see decision/decision_metrics.h).
 */
#include "base/metrics.h"
#include "decision/decision_metrics.h"

void
decision_metrics_register(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_domains; i++)
		(void)metrics_domain(cfg->domains[i].name);
}

void
decision_count(const struct decision *d)
{
	struct metrics_domain *m;
	enum metrics_action a;

	switch (d->action) {
	case DECISION_ACCEPT:   a = METRICS_ACCEPT; break;
	case DECISION_ROUTE:    a = METRICS_ROUTE; break;
	case DECISION_REJECT:   a = METRICS_REJECT; break;
	case DECISION_TEMPFAIL: a = METRICS_TEMPFAIL; break;
	default:                return;
	}
	if (d->domain == NULL)
		return;
	/* A lock-free look-up by name: reloads may add domains any time. */
	m = metrics_domain(d->domain->name);
	metrics_decision(m, a);
	if (d->conflict != NULL)
		metrics_conflict(m);
	if (d->reason == REASON_LOOP)
		metrics_guard(METRICS_GUARD_LOOP);
}
