/*
 * apps.h — the appliances. The config's "app" names one; apps_init sets it
 * up on core 0 at start-up (pollers on the data cores) before any core
 * enters its loop.
 */
#ifndef POLLUX_APPS_H
#define POLLUX_APPS_H
#include <stddef.h>
#include <stdint.h>

/* cfg: the whole config document (json_t *). Returns 0, or -EINVAL with
 * "l2fwd.pairs[0][1]: no such device" style text (the bad field's path). */
int apps_init(const void *cfg, char *err, size_t errlen);
int l2fwd_init(const void *cfg, char *err, size_t errlen);
int echo_init(const void *cfg, char *err, size_t errlen);
int iperf_init(const void *cfg, char *err, size_t errlen);
int web_init(const void *cfg, char *err, size_t errlen);
/* Core 0, any time: the web app's body from now on (NULL: the default);
 * published to the data cores, the old one freed after they moved on. */
int web_set_body(const char *txt, char *err, size_t errlen);
int web_is_running(void);
int proxy_init(const void *cfg, char *err, size_t errlen);
/* Per-core free lists of an app's connection contexts, made at start-up:
 * n objects of `size` bytes from frame memory, chained through their
 * first member (a pointer). NULL when memory runs out. */
void *apps_free_list(size_t size, unsigned n);
/* the owner core's list: take one (NULL: none left) / give one back */
static inline void *apps_take(void **head)
{
	void *o = *head;
	if (o)
		*head = *(void **)o;
	return o;
}
static inline void apps_give(void **head, void *o)
{
	*(void **)o = *head;
	*head = o;
}
#endif
