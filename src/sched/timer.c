/*
 * timer.c — the hierarchical timer wheel. See timer.h.
 *
 * Invariant: a timer with expiry tick e sits at level l = the highest
 * level at which e and now differ in the level's 8-bit digit or above
 * (computed from e - now at insertion), in slot (e >> 8l) & 255. When now
 * crosses a level-l slot boundary, that slot's timers are re-inserted
 * (cascaded) relative to the new now, so each lands at a lower level, and
 * at level 0 the slot for tick e is run exactly when now reaches e.
 */
#include "sched/timer.h"

#define LVL_BITS 8
#define MAX_DELTA ((1ull << (LVL_BITS * TIMER_LEVELS)) - 1)

static uint64_t tick_of(uint64_t ns) { return ns >> TIMER_TICK_SHIFT; }

/* The tick at which t fires: its deadline rounded up, so never early (no
 * overflow near UINT64_MAX). */
static uint64_t expires_of(const struct timer *t)
{
	return tick_of(t->deadline_ns) + ((t->deadline_ns & ((1ull << TIMER_TICK_SHIFT) - 1)) != 0);
}

void timer_wheel_init(struct timer_wheel *w, uint64_t now_ns)
{
	w->now = tick_of(now_ns);
	w->armed = 0;
	w->fired = 0;
	for (int l = 0; l < TIMER_LEVELS; l++)
		for (int s = 0; s < TIMER_SLOTS; s++)
			w->slot[l][s] = NULL;
}

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
	t->next = NULL;
	t->pprev = NULL;
	t->wheel = NULL;
	t->deadline_ns = 0;
	t->period_ns = 0;
	t->fn = fn;
	t->arg = arg;
}

static void link(struct timer_wheel *w, struct timer *t)
{
	uint64_t e = expires_of(t);
	if (e < w->now)
		e = w->now;                      /* already due: the current slot */
	uint64_t delta = e - w->now;
	if (delta > MAX_DELTA) {
		delta = MAX_DELTA;               /* beyond reach: re-linked on arrival */
		e = w->now + delta;
	}
	int l = 0;
	/* the level whose digit is the highest one in which e and now differ */
	while (l < TIMER_LEVELS - 1 && (e >> (LVL_BITS * (l + 1))) != (w->now >> (LVL_BITS * (l + 1))))
		l++;
	struct timer **head = &w->slot[l][(e >> (LVL_BITS * l)) & (TIMER_SLOTS - 1)];
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

static void unlink(struct timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
}

void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t deadline_ns, uint64_t period_ns)
{
	if (t->pprev) {
		ASSERT(t->wheel == w);           /* armed on another core's wheel */
		unlink(t);
	} else {
		w->armed++;
	}
	t->wheel = w;
	t->deadline_ns = deadline_ns;
	t->period_ns = period_ns;
	link(w, t);
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
	if (!t->pprev)
		return;
	ASSERT(t->wheel == w);                   /* armed on another core's wheel */
	unlink(t);
	t->wheel = NULL;
	w->armed--;
}

/* Re-inserts every timer of one slot relative to the current tick. */
static void cascade(struct timer_wheel *w, int l, unsigned s)
{
	struct timer *t = w->slot[l][s];
	w->slot[l][s] = NULL;
	while (t) {
		struct timer *n = t->next;
		t->pprev = NULL;
		t->next = NULL;
		link(w, t);
		t = n;
	}
}

size_t timer_wheel_run(struct timer_wheel *w, uint64_t now_ns)
{
	uint64_t target = tick_of(now_ns);
	size_t fired = 0;
	while (w->now <= target) {
		if (w->armed == 0) {             /* nothing to visit: jump */
			w->now = target + 1;
			break;
		}
		uint64_t now = w->now;
		/* at a level-l boundary, bring level l's slot down first */
		for (int l = 1; l < TIMER_LEVELS; l++) {
			if (now & ((1ull << (LVL_BITS * l)) - 1))
				break;
			cascade(w, l, (now >> (LVL_BITS * l)) & (TIMER_SLOTS - 1));
		}
		struct timer **head = &w->slot[0][now & (TIMER_SLOTS - 1)];
		while (*head) {
			struct timer *t = *head;
			unlink(t);
			if (expires_of(t) > now) {   /* clamped far timer: not yet */
				link(w, t);
				continue;
			}
			w->armed--;
			t->wheel = NULL;
			fired++;
			w->fired++;
			if (t->period_ns) {
				uint64_t d = t->deadline_ns + t->period_ns;
				if (d + t->period_ns < now_ns)
					d = now_ns;          /* fell far behind: no backlog */
				if (tick_of(d + (1ull << TIMER_TICK_SHIFT) - 1) <= now)
					d = (now + 1) << TIMER_TICK_SHIFT;  /* at most once a tick */
				timer_arm(w, t, d, t->period_ns);
			}
			t->fn(t, t->arg);
		}
		w->now = now + 1;
	}
	return fired;
}

uint64_t timer_wheel_next_ns(const struct timer_wheel *w)
{
	if (w->armed == 0)
		return UINT64_MAX;
	/* the next level-0 slot with a timer, else the next cascade point */
	for (unsigned i = 0; i < TIMER_SLOTS; i++) {
		uint64_t tk = w->now + i;
		if (!(tk & (TIMER_SLOTS - 1)))   /* now itself too: its cascade is still to run */
			return tk << TIMER_TICK_SHIFT;   /* a cascade may bring timers down */
		if (w->slot[0][tk & (TIMER_SLOTS - 1)])
			return tk << TIMER_TICK_SHIFT;
	}
	return (w->now + TIMER_SLOTS) << TIMER_TICK_SHIFT;
}
